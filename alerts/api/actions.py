"""The operator actions of domain §7.3 as endpoints: POST /api/v1/alerts/<id>/<action>/.

Order of refusals: no role or a read-only role → 403; alert out of scope → 404; bad input
→ 400 per field; not allowed from the alert's status → 409 with the reason. On success the
answer is the updated alert detail (as GET /api/v1/alerts/<id>/).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import maintenance_windows, shelving, workflow
from alerts.api.alert_detail import AlertDetailSerializer, detail_response, scoped_alert
from alerts.models import MaintenanceEvent
from fleetmon.accounts.permissions import CanTriageOrReadOnly

NOTE_MAX = 4000


class AcknowledgeInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX)


class ScheduleMaintenanceInput(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=MaintenanceEvent.EventType.choices)
    scheduled_date = serializers.DateTimeField()
    priority = serializers.ChoiceField(
        choices=MaintenanceEvent.Priority.choices, default=MaintenanceEvent.Priority.MEDIUM
    )
    technician_id = serializers.CharField(required=False, allow_blank=True, max_length=150)
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX)
    quiet_hours = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=24,
        help_text="also a maintenance window on the device from the scheduled time, this long",
    )


class FalsePositiveInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=NOTE_MAX, help_text="why it is not a real problem; feeds retraining"
    )


class ResolveInput(serializers.Serializer):
    notes = serializers.CharField(max_length=NOTE_MAX)
    maintenance_event_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="a maintenance event of the alert's device"
    )


class EscalateInput(serializers.Serializer):
    level = serializers.ChoiceField(choices=[("L2", "L2"), ("L3", "L3")])
    to = serializers.CharField(max_length=150, help_text="whom the alert is escalated to")
    reason = serializers.CharField(max_length=NOTE_MAX)


class ShelveInput(serializers.Serializer):
    duration = serializers.ChoiceField(
        choices=shelving.DURATIONS,
        help_text="1h, 4h, end_of_shift (the site's next shift boundary) or until (give `until`)",
    )
    until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="with duration=until: at most 24 h ahead"
    )
    reason = serializers.CharField(max_length=NOTE_MAX, help_text="why it is set aside")


class UnshelveInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX)


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AlertActionView(APIView):
    """Scope, input, workflow, answer: the same for every action."""

    permission_classes = [CanTriageOrReadOnly]
    input_serializer: type[serializers.Serializer]

    def perform(self, alert, data: dict, actor: str) -> None:
        raise NotImplementedError

    def post(self, request, alert_id):
        alert = scoped_alert(request.profile, alert_id)
        given = self.input_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            self.perform(alert, given.validated_data, request.user.username)
        except workflow.IllegalTransition as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        except shelving.InvalidShelve as invalid:
            raise ValidationError({invalid.field: [str(invalid)]}) from invalid
        return Response(detail_response(alert_id, request.profile))


def action_schema(operation_id: str, request, summary: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=request,
        responses={
            200: AlertDetailSerializer,
            400: OpenApiResponse(description="invalid input: messages per field"),
            403: OpenApiResponse(description="your role may not change alerts"),
            404: OpenApiResponse(description="no such alert in your scope"),
            409: OpenApiResponse(
                ConflictSerializer, description="not allowed from the alert's status"
            ),
        },
    )


class AcknowledgeView(AlertActionView):
    input_serializer = AcknowledgeInput

    @action_schema("alert_acknowledge", AcknowledgeInput, "open → acknowledged")
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        workflow.acknowledge(alert_id=alert.pk, actor=actor, note=data.get("note", ""))


class ScheduleMaintenanceView(AlertActionView):
    input_serializer = ScheduleMaintenanceInput

    @action_schema(
        "alert_schedule_maintenance",
        ScheduleMaintenanceInput,
        "create a maintenance event; open or acknowledged → in_progress",
    )
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        try:
            maintenance_windows.schedule_maintenance_quietly(
                quiet_hours=data.get("quiet_hours"),
                alert_id=alert.pk,
                actor=actor,
                event_type=data["event_type"],
                scheduled_date=data["scheduled_date"],
                priority=data["priority"],
                technician_id=data.get("technician_id", ""),
                note=data.get("note", ""),
            )
        except maintenance_windows.InvalidWindow as invalid:
            raise ValidationError({invalid.field: [str(invalid)]}) from invalid


class FalsePositiveView(AlertActionView):
    input_serializer = FalsePositiveInput

    @action_schema(
        "alert_false_positive",
        FalsePositiveInput,
        "active → false_positive; writes an operator_feedback label event",
    )
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        workflow.mark_false_positive(alert_id=alert.pk, actor=actor, reason=data["reason"])


class ResolveView(AlertActionView):
    input_serializer = ResolveInput

    @action_schema(
        "alert_resolve",
        ResolveInput,
        "active → resolved; completes the cited maintenance event with the device's score",
    )
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        maintenance_id = data.get("maintenance_event_id")
        if (
            maintenance_id
            and not MaintenanceEvent.objects.filter(
                pk=maintenance_id, device_id=alert.device_id
            ).exists()
        ):
            raise ValidationError(
                {"maintenance_event_id": [f"not a maintenance event of device {alert.device_id}"]}
            )
        workflow.resolve(
            alert_id=alert.pk,
            actor=actor,
            note=data["notes"],
            maintenance_event_id=maintenance_id,
        )


class EscalateView(AlertActionView):
    input_serializer = EscalateInput

    @action_schema("alert_escalate", EscalateInput, "raise the level to L2 or L3")
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        workflow.escalate(
            alert_id=alert.pk,
            actor=actor,
            level=data["level"],
            to=data["to"],
            reason=data["reason"],
        )


class ShelveView(AlertActionView):
    input_serializer = ShelveInput

    @action_schema(
        "alert_shelve",
        ShelveInput,
        "shelve an active alert: out of the queue and silent until it expires (max 24 h)",
    )
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        shelving.alert_shelve(
            alert_id=alert.pk,
            actor=actor,
            duration=data["duration"],
            until=data.get("until"),
            reason=data["reason"],
        )


class UnshelveView(AlertActionView):
    input_serializer = UnshelveInput

    @action_schema("alert_unshelve", UnshelveInput, "bring a shelved alert back to the queue")
    def post(self, request, alert_id):
        return super().post(request, alert_id)

    def perform(self, alert, data, actor):
        shelving.alert_unshelve(alert_id=alert.pk, actor=actor, note=data.get("note", ""))
