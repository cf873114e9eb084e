"""The scoring API: model registry, scoring runs and device scores.

Views stay thin: reads are querysets over scoring's own tables, writes call
scoring.services (or enqueue a task), and refusals from the services become 4xx answers.
"""

from datetime import timedelta

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.permissions import CanManageModelsOrReadOnly
from fleetmon.accounts.scopes import scoped_devices
from fleetmon.registry.models import Device
from scoring.api.serializers import (
    DeviceScoresQuerySerializer,
    ErrorSerializer,
    ModelPromoteInputSerializer,
    ModelRollbackInputSerializer,
    ModelScoreOutputSerializer,
    ModelTrainInputSerializer,
    ModelVersionDetailOutputSerializer,
    ModelVersionFilterSerializer,
    ModelVersionOutputSerializer,
    ScoringRunDetailOutputSerializer,
    ScoringRunInputSerializer,
    ScoringRunOutputSerializer,
    StalenessOutputSerializer,
    TaskOutputSerializer,
)
from scoring.models import ModelScore, ModelVersion, ScoringRun, ScoringShard
from scoring.services.features import window_floor
from scoring.services.registry import RegistryError, model_rollback, model_set_role
from scoring.services.runs import NothingToScore, run_progress
from scoring.services.staleness import scoring_staleness
from scoring.tasks import dispatch_run, train_model_task

RUN_WINDOW_MINUTES = 15  # on-demand runs score 15-minute windows, like run_create's default
DEFAULT_SCORES_SPAN = timedelta(hours=24)

FORBIDDEN = OpenApiResponse(description="not signed in, or not staff for a write")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such object")


class ScoringAPIView(APIView):
    permission_classes = [CanManageModelsOrReadOnly]


def _refused(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


def _version_detail(**lookup) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.prefetch_related("events"), **lookup)


# ---------------------------------------------------------------- model registry


class ModelListView(ScoringAPIView):
    @extend_schema(
        operation_id="models_list",
        parameters=[ModelVersionFilterSerializer],
        responses={
            200: ModelVersionOutputSerializer(many=True),
            400: OpenApiResponse(description="unknown kind or role"),
            403: FORBIDDEN,
        },
        description="Model versions, by kind and newest first.",
    )
    def get(self, request):
        filters = ModelVersionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        versions = ModelVersion.objects.filter(**filters.validated_data)
        return Response(ModelVersionOutputSerializer(versions, many=True).data)


class ModelDetailView(ScoringAPIView):
    @extend_schema(
        operation_id="models_retrieve",
        responses={200: ModelVersionDetailOutputSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="One model version with its training metadata and role-change events.",
    )
    def get(self, request, model_id: str):
        return Response(ModelVersionDetailOutputSerializer(_version_detail(model_id=model_id)).data)


class ModelPromoteView(ScoringAPIView):
    @extend_schema(
        operation_id="models_promote",
        request=ModelPromoteInputSerializer,
        responses={
            200: ModelVersionDetailOutputSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="invalid input per field, or the registry refused the change "
                "(detail says why)",
            ),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        description=(
            "Give a version a role. Promoting to production retires the current production "
            "version of its kind. A reason is required; it goes into the audit trail."
        ),
    )
    def post(self, request, model_id: str):
        version = get_object_or_404(ModelVersion, model_id=model_id)
        body = ModelPromoteInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            model_set_role(version=version, actor=request.user.username, **body.validated_data)
        except RegistryError as exc:
            return _refused(exc)
        return Response(ModelVersionDetailOutputSerializer(_version_detail(pk=version.pk)).data)


class ModelRollbackView(ScoringAPIView):
    @extend_schema(
        operation_id="models_rollback",
        request=ModelRollbackInputSerializer,
        responses={
            200: ModelVersionDetailOutputSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="invalid input per field, or nothing to roll back to (detail says why)",
            ),
            403: FORBIDDEN,
        },
        description=(
            "Put the previous production version of a kind back in production; the current "
            "one is retired. Answers with the restored version."
        ),
    )
    def post(self, request):
        body = ModelRollbackInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            restored = model_rollback(actor=request.user.username, **body.validated_data)
        except RegistryError as exc:
            return _refused(exc)
        return Response(ModelVersionDetailOutputSerializer(_version_detail(pk=restored.pk)).data)


class ModelTrainView(ScoringAPIView):
    @extend_schema(
        operation_id="models_train",
        request=ModelTrainInputSerializer,
        responses={
            202: TaskOutputSerializer,
            400: OpenApiResponse(description="unknown kind; the message lists the known ones"),
            403: FORBIDDEN,
        },
        description=(
            "Train a new draft version of a kind in the background, on the stored features. "
            "The new version appears in the registry when the task finishes."
        ),
    )
    def post(self, request):
        body = ModelTrainInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = train_model_task.delay(body.validated_data["kind"], request.user.username)
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------- scoring runs


class RunPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class ScoringRunListView(GenericAPIView):
    permission_classes = [CanManageModelsOrReadOnly]
    pagination_class = RunPagination
    queryset = ScoringRun.objects.all()  # newest first (Meta.ordering)
    serializer_class = ScoringRunOutputSerializer

    @extend_schema(
        operation_id="scoring_runs_list",
        responses={200: ScoringRunOutputSerializer(many=True), 403: FORBIDDEN},
        description="The scoring run ledger, newest first.",
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ScoringRunOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="scoring_runs_create",
        request=ScoringRunInputSerializer,
        responses={
            201: ScoringRunDetailOutputSerializer,
            400: OpenApiResponse(description="unknown kind or device, or a misaligned window"),
            403: FORBIDDEN,
            409: OpenApiResponse(
                ErrorSerializer, description="no model version or no active device to score"
            ),
        },
        description=(
            "Start an on-demand scoring run. Its shards are scored in the background; poll "
            "the run for progress."
        ),
    )
    def post(self, request):
        body = ScoringRunInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kinds, device_id, window_end = (
            body.validated_data.get("kinds"),
            body.validated_data["device_id"],
            body.validated_data["window_end"],
        )
        if device_id and not Device.objects.filter(device_id=device_id).exists():
            raise ValidationError({"device_id": [f"no device {device_id!r} in the registry"]})
        if window_end is not None and window_floor(window_end, RUN_WINDOW_MINUTES) != window_end:
            # A window end between boundaries matches no feature window: the run would score
            # nothing and still report success.
            raise ValidationError(
                {"window_end": [f"must be on a {RUN_WINDOW_MINUTES}-minute boundary"]}
            )
        try:
            run_id = dispatch_run(
                trigger=ScoringRun.Trigger.ON_DEMAND,
                window_end=window_end or window_floor(timezone.now(), RUN_WINDOW_MINUTES),
                requested_by=request.user.username,
                kinds=tuple(kinds) if kinds else None,
                device_id=device_id,
            )
        except NothingToScore as exc:
            return Response({"detail": f"nothing to score: {exc}"}, status=status.HTTP_409_CONFLICT)
        return Response(_run_detail(run_id), status=status.HTTP_201_CREATED)


class ScoringRunDetailView(ScoringAPIView):
    @extend_schema(
        operation_id="scoring_runs_retrieve",
        responses={200: ScoringRunDetailOutputSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="One run with its progress, its shards and the canary comparison.",
    )
    def get(self, request, run_id: int):
        return Response(_run_detail(run_id))


def _run_detail(run_id: int) -> dict:
    shards = ScoringShard.objects.select_related("model_version")
    run = get_object_or_404(
        ScoringRun.objects.prefetch_related(Prefetch("shards", queryset=shards)), pk=run_id
    )
    run.progress = run_progress(run)
    return ScoringRunDetailOutputSerializer(run).data


# ---------------------------------------------------------------- scores


class DeviceScoresView(ScoringAPIView):
    @extend_schema(
        operation_id="device_scores_list",
        parameters=[DeviceScoresQuerySerializer],
        responses={
            200: ModelScoreOutputSerializer(many=True),
            400: OpenApiResponse(description="a malformed datetime, named by its field"),
            403: FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="no such device in your scope"),
        },
        description=(
            "Scores (contract C5) of one device from every model, by window end; windows "
            "ending in [since, until], the last 24 hours by default."
        ),
    )
    def get(self, request, device_id: str):
        # Out of scope answers as unknown does: which device ids exist stays hidden.
        get_object_or_404(scoped_devices(request.profile), device_id=device_id)
        query = DeviceScoresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = query.validated_data.get("until") or timezone.now()
        since = query.validated_data.get("since") or until - DEFAULT_SCORES_SPAN
        if since > until:
            raise ValidationError({"since": ["must not be after until"]})
        scores = ModelScore.objects.filter(
            device_id=device_id, window_end__gte=since, window_end__lte=until
        )
        if model_id := query.validated_data.get("model_id"):
            scores = scores.filter(model_id=model_id)
        scores = scores.order_by("window_end", "model_id")
        return Response(ModelScoreOutputSerializer(scores, many=True).data)


class StalenessView(ScoringAPIView):
    @extend_schema(
        operation_id="scoring_staleness",
        responses={200: StalenessOutputSerializer, 403: FORBIDDEN},
        description=(
            "How fresh the production scores are (domain §4.5): fresh < 1 h, delayed 1-2 h, "
            "rules_fallback 2-4 h, streaming_only > 4 h or no scores; per model and for the "
            "fleet (its freshest model)."
        ),
    )
    def get(self, request):
        return Response(StalenessOutputSerializer(scoring_staleness(now=timezone.now())).data)
