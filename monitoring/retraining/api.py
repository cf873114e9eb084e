"""The retraining API: the trigger history, and a manual retrain (ML engineers and admins).

GET /api/v1/monitoring/retraining-triggers/          newest first, filterable, paginated
POST /api/v1/monitoring/retraining-triggers/         {model_kind, reason, threshold?}
GET /api/v1/monitoring/retraining-triggers/<id>/     one trigger with its evidence
"""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from fleetmon.accounts.permissions import CanManageModelsOrReadOnly
from monitoring.models import RetrainingTrigger, TriggerAction, TriggerKind, TriggerStatus
from monitoring.retraining.services import RETRAINABLE_KINDS, RetrainRefused, retrain_request
from scoring.api.serializers import ErrorSerializer  # one Error component in the schema


def _enum(values, description: str = ""):
    """A choice field documented as an inline enum: several apps have a `status` or `kind`
    with other values, and named enum components would clash."""

    @extend_schema_field({"type": "string", "enum": list(values), "description": description})
    class EnumField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=list(values), **kwargs)

    return EnumField


TriggerKindField = _enum(TriggerKind.values, "which trigger fired (manual: a person)")
TriggerStatusField = _enum(TriggerStatus.values, "where the loop is with this trigger")
TriggerActionField = _enum(TriggerAction.values, "what the trigger does")
ModelKindField = _enum(RETRAINABLE_KINDS, "a trained model kind")


class RetrainingTriggerOutputSerializer(serializers.ModelSerializer):
    trigger_kind = TriggerKindField(read_only=True)
    status = TriggerStatusField(read_only=True)
    action = TriggerActionField(read_only=True)
    candidate = serializers.CharField(
        source="candidate_id", allow_null=True, read_only=True, help_text="candidate model_id"
    )
    evidence = serializers.JSONField(read_only=True, help_text="the numbers that made it fire")
    options = serializers.JSONField(read_only=True, help_text="training overrides")
    outcome_reasons = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RetrainingTrigger
        fields = [
            "id",
            "trigger_kind",
            "model_kind",
            "fired_at",
            "summary",
            "evidence",
            "automated",
            "requested_by",
            "action",
            "options",
            "status",
            "candidate",
            "canary_since",
            "outcome_reasons",
            "finished_at",
        ]


class RetrainingTriggerFilterSerializer(serializers.Serializer):
    status = TriggerStatusField(required=False)
    trigger_kind = TriggerKindField(required=False)
    model_kind = serializers.CharField(required=False, max_length=32)


class RetrainInputSerializer(serializers.Serializer):
    model_kind = ModelKindField()
    reason = serializers.CharField(max_length=500, help_text="why: it goes into the audit trail")
    threshold = serializers.FloatField(
        required=False,
        min_value=0.01,
        max_value=0.99,
        help_text="train with this score threshold instead of the default (a threshold fix)",
    )


class TriggerPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class RetrainingTriggerListView(GenericAPIView):
    permission_classes = [CanManageModelsOrReadOnly]
    pagination_class = TriggerPagination
    serializer_class = RetrainingTriggerOutputSerializer

    def get_queryset(self):
        return RetrainingTrigger.objects.all()  # newest first (Meta.ordering)

    @extend_schema(
        operation_id="retraining_triggers_list",
        parameters=[RetrainingTriggerFilterSerializer],
        responses={
            200: RetrainingTriggerOutputSerializer(many=True),
            400: OpenApiResponse(description="an unknown status or trigger kind"),
            403: OpenApiResponse(description="not signed in, or no FleetMon role"),
        },
        description="Retraining triggers, newest first: what fired, the evidence, the outcome.",
    )
    def get(self, request):
        filters = RetrainingTriggerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(self.get_queryset().filter(**filters.validated_data))
        return self.get_paginated_response(RetrainingTriggerOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="retraining_triggers_create",
        request=RetrainInputSerializer,
        responses={
            201: RetrainingTriggerOutputSerializer,
            400: OpenApiResponse(description="an unknown model kind, or no reason; per field"),
            403: OpenApiResponse(description="only ML engineers and admins may retrain"),
            409: OpenApiResponse(
                ErrorSerializer, description="a retrain of this model kind is in progress"
            ),
        },
        description=(
            "Retrain a model kind now (a manual trigger). The loop runs as for an automated "
            "trigger: the candidate is scored on the regression set and as a canary, then "
            "promoted automatically if it passes, else rejected and the ML engineers told."
        ),
    )
    def post(self, request):
        body = RetrainInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            trigger = retrain_start_request(actor=request.user.username, **body.validated_data)
        except RetrainRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(
            RetrainingTriggerOutputSerializer(trigger).data, status=status.HTTP_201_CREATED
        )


class RetrainingTriggerDetailView(GenericAPIView):
    permission_classes = [CanManageModelsOrReadOnly]
    serializer_class = RetrainingTriggerOutputSerializer

    @extend_schema(
        operation_id="retraining_triggers_retrieve",
        responses={
            200: RetrainingTriggerOutputSerializer,
            403: OpenApiResponse(description="not signed in, or no FleetMon role"),
            404: OpenApiResponse(ErrorSerializer, description="no such trigger"),
        },
        description="One retraining trigger with its evidence and outcome.",
    )
    def get(self, request, pk: int):
        return Response(
            RetrainingTriggerOutputSerializer(get_object_or_404(RetrainingTrigger, pk=pk)).data
        )


def retrain_start_request(*, actor: str, **fields) -> RetrainingTrigger:
    """Record a manual trigger and start its retrain after commit (shared with the page)."""
    from monitoring.tasks import retrain_task

    with transaction.atomic():
        trigger = retrain_request(actor=actor, now=timezone.now(), **fields)
        transaction.on_commit(lambda: retrain_task.delay(trigger.pk))
    return trigger
