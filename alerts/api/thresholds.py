"""Threshold editor API: a device's streaming-rule thresholds, edits with a reason, a preview
of what a value would have raised, the change history and revert; cohort overrides.

Devices outside the user's scope answer 404. Device overrides are for operators (in scope)
and admins; cohort overrides for ML engineers and admins; everyone in scope may read and
preview.
"""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import ThresholdHistory, ThresholdScope
from alerts.threshold_preview import PREVIEW_SPAN, preview_parameter
from alerts.threshold_views import (
    CATALOGUE,
    DEFAULTS,
    UnknownParameter,
    effective_for,
    history_for,
    parameter_info,
    parameter_rows,
    threshold_revert,
    validate_value,
)
from alerts.thresholds import LIMITS, ThresholdError, threshold_set
from fleetmon.accounts.permissions import (
    CanManageModelsOrReadOnly,
    CanTriageOrReadOnly,
    HasProfile,
)
from fleetmon.accounts.scopes import scoped_devices
from fleetmon.registry.models import Cohort, Device

HISTORY_LIMIT = 200
REASON_MESSAGES = {
    "required": "a reason is required",
    "blank": "a reason is required",
    "null": "a reason is required",
}

# ---------------------------------------------------------------- serializers


class ThresholdParameterSerializer(serializers.Serializer):
    parameter = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    rules = serializers.ListField(child=serializers.CharField())
    min = serializers.FloatField(help_text="lowest physically possible value")
    max = serializers.FloatField(help_text="highest physically possible value")
    effective = serializers.FloatField(help_text="the value the streaming rules use")
    source = serializers.CharField(help_text="device | cohort | default")
    device_value = serializers.FloatField(allow_null=True)
    cohort_value = serializers.FloatField(allow_null=True)
    default = serializers.FloatField()


class DeviceThresholdsSerializer(serializers.Serializer):
    device_id = serializers.CharField()
    cohort_id = serializers.CharField()
    can_edit_device = serializers.BooleanField()
    can_edit_cohort = serializers.BooleanField()
    parameters = ThresholdParameterSerializer(many=True)


class ThresholdHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ThresholdHistory
        fields = [
            "id",
            "parameter",
            "scope",
            "cohort_id",
            "device_id",
            "old_value",
            "new_value",
            "changed_by",
            "changed_at",
            "reason",
        ]


class ThresholdValueField(serializers.FloatField):
    """A number that is a physically possible value of the parameter in the context."""

    def to_internal_value(self, data) -> float:
        value = super().to_internal_value(data)
        try:
            return validate_value(self.context["parameter"], value)
        except ThresholdError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ThresholdChangeSerializer(serializers.Serializer):
    value = ThresholdValueField()
    reason = serializers.CharField(max_length=2000, error_messages=REASON_MESSAGES)


class ThresholdRemoveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, error_messages=REASON_MESSAGES)


class DeviceThresholdChangedSerializer(serializers.Serializer):
    parameter = ThresholdParameterSerializer()
    change = ThresholdHistorySerializer()


class CohortThresholdSerializer(serializers.Serializer):
    parameter = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    rules = serializers.ListField(child=serializers.CharField())
    min = serializers.FloatField()
    max = serializers.FloatField()
    cohort_value = serializers.FloatField(allow_null=True)
    default = serializers.FloatField()


class CohortThresholdChangedSerializer(serializers.Serializer):
    parameter = CohortThresholdSerializer()
    change = ThresholdHistorySerializer()


class PreviewRequestSerializer(serializers.Serializer):
    value = ThresholdValueField()


class PreviewSerializer(serializers.Serializer):
    parameter = serializers.CharField()
    rules = serializers.ListField(child=serializers.CharField())
    value = serializers.FloatField(help_text="the proposed value")
    current_value = serializers.FloatField(help_text="the effective value now")
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    readings = serializers.IntegerField(help_text="readings of the device replayed")
    alerts = serializers.IntegerField(help_text="alerts the proposed value would have raised")
    current_alerts = serializers.IntegerField(help_text="alerts the current value raises")
    firings = serializers.IntegerField(
        help_text="times the rules would have fired (repeats of an active alert included)"
    )
    current_firings = serializers.IntegerField(help_text="times they fire with the current value")
    by_rule = serializers.DictField(child=serializers.IntegerField())
    current_by_rule = serializers.DictField(child=serializers.IntegerField())
    firings_by_rule = serializers.DictField(child=serializers.IntegerField())
    message = serializers.CharField()


class RevertSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="optional"
    )


# ---------------------------------------------------------------- helpers


def _device(request, device_id: str) -> Device:
    """The device if it is in the user's scope; 404 otherwise (its existence must not leak)."""
    return get_object_or_404(scoped_devices(request.profile).select_related("cohort"), pk=device_id)


def _parameter(parameter: str) -> str:
    try:
        parameter_info(parameter)
    except UnknownParameter:
        raise NotFound(f"unknown parameter {parameter!r}; known: {', '.join(CATALOGUE)}") from None
    return parameter


def _valid(serializer_class, data, parameter: str | None = None) -> dict:
    serializer = serializer_class(data=data, context={"parameter": parameter})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _set(**kwargs) -> ThresholdHistory:
    try:
        return threshold_set(**kwargs)
    except ThresholdError as exc:
        field = "reason" if "reason" in str(exc) else "value"
        raise ValidationError({field: [str(exc)]}) from None


def _changed(request, serializer_class, row, **change) -> Response:
    """Set (a value) or remove (None) one override of a device or cohort, as the signed-in
    user, and answer with the parameter's new row and the history entry."""
    entry = _set(actor=request.user.get_username(), **change)
    return Response(serializer_class({"parameter": row(), "change": entry}).data)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _row(device: Device, parameter: str) -> dict:
    return next(asdict(r) for r in parameter_rows(device) if r.parameter == parameter)


def _cohort_row(cohort: Cohort, parameter: str) -> dict:
    from alerts.models import RuleThreshold

    info = CATALOGUE[parameter]
    value = (
        RuleThreshold.objects.filter(
            scope=ThresholdScope.COHORT, cohort=cohort, parameter=parameter
        )
        .values_list("value", flat=True)
        .first()
    )
    return {
        "parameter": parameter,
        "label": info.label,
        "unit": info.unit,
        "rules": list(info.rules),
        "min": LIMITS[parameter][0],
        "max": LIMITS[parameter][1],
        "cohort_value": value,
        "default": float(DEFAULTS[parameter]),
    }


# ---------------------------------------------------------------- device thresholds


class DeviceThresholdsView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_thresholds_list",
        responses=DeviceThresholdsSerializer,
        description=(
            "Every streaming-rule parameter of a device: the effective value, where it comes "
            "from (device, cohort or default), the overrides, the default, the unit, the "
            "physically possible range and the rules that read it."
        ),
    )
    def get(self, request, device_id: str):
        device = _device(request, device_id)
        return Response(
            DeviceThresholdsSerializer(
                {
                    "device_id": device.pk,
                    "cohort_id": device.cohort_id,
                    "can_edit_device": request.profile.can_triage,
                    "can_edit_cohort": request.profile.can_manage_models,
                    "parameters": [asdict(r) for r in parameter_rows(device)],
                }
            ).data
        )


# OpenAPI 3.0 gives DELETE no request body, so the framework's 400 is not inferred for it.
REMOVE_REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='no reason (send {"reason": ...} as the JSON body), or no override to remove',
)


class DeviceThresholdView(APIView):
    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="device_threshold_set",
        request=ThresholdChangeSerializer,
        responses=DeviceThresholdChangedSerializer,
        description=(
            "Set the device's override of one parameter (operators in scope and admins). A "
            "reason is required; a physically impossible value, or one at odds with the "
            "device's other thresholds (a clear level past its trip level, k above n), is "
            "refused with 400. Running streaming workers pick the change up within seconds."
        ),
    )
    def put(self, request, device_id: str, parameter: str):
        device = _device(request, device_id)
        _parameter(parameter)
        data = _valid(ThresholdChangeSerializer, request.data, parameter)
        return _changed(
            request,
            DeviceThresholdChangedSerializer,
            lambda: _row(device, parameter),
            parameter=parameter,
            value=data["value"],
            device=device,
            reason=data["reason"],
        )

    @extend_schema(
        operation_id="device_threshold_remove",
        request=ThresholdRemoveSerializer,
        responses={200: DeviceThresholdChangedSerializer, 400: REMOVE_REFUSED},
        description="Remove the device's override: the cohort's value or the default applies.",
    )
    def delete(self, request, device_id: str, parameter: str):
        device = _device(request, device_id)
        _parameter(parameter)
        data = _valid(ThresholdRemoveSerializer, request.data)
        if _row(device, parameter)["device_value"] is None:
            raise ValidationError(
                {"parameter": [f"{device.pk} has no override of {parameter} to remove"]}
            )
        return _changed(
            request,
            DeviceThresholdChangedSerializer,
            lambda: _row(device, parameter),
            parameter=parameter,
            value=None,
            device=device,
            reason=data["reason"],
        )


class DeviceThresholdPreviewView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_threshold_preview",
        request=PreviewRequestSerializer,
        responses=PreviewSerializer,
        description=(
            "How many alerts (and firings) the parameter's rules would have raised over the "
            "last 7 days of this device's readings with the proposed value, next to the "
            "current value's: the stored readings replayed through the streaming rules, a "
            "repeat of an active alert merged into it. A value at odds with the device's "
            "other thresholds (a clear level past its trip level) is refused. Changes nothing."
        ),
    )
    def post(self, request, device_id: str, parameter: str):
        device = _device(request, device_id)
        _parameter(parameter)
        value = _valid(PreviewRequestSerializer, request.data, parameter)["value"]
        current, _ = effective_for(device)
        try:
            validate_value(parameter, value, around=current)
        except ThresholdError as exc:
            raise ValidationError({"value": [str(exc)]}) from None
        rules = CATALOGUE[parameter].rules
        preview = preview_parameter(
            device_id=device.pk,
            current=current,
            parameter=parameter,
            value=value,
            rules=rules,
            now=timezone.now(),
        )
        proposed, now = preview.proposed, preview.current
        message = (
            f"would have raised {_count(proposed.alerts, 'alert')} "
            f"({_count(proposed.firings, 'firing')}) in the last {PREVIEW_SPAN.days} days "
            f"(now: {_count(now.alerts, 'alert')}, {_count(now.firings, 'firing')})"
        )
        return Response(
            PreviewSerializer(
                {
                    "parameter": parameter,
                    "rules": list(rules),
                    "value": value,
                    "current_value": float(getattr(current, parameter)),
                    "since": preview.since,
                    "until": preview.until,
                    "readings": preview.readings,
                    "alerts": proposed.alerts,
                    "current_alerts": now.alerts,
                    "firings": proposed.firings,
                    "current_firings": now.firings,
                    "by_rule": preview.proposed.by_rule,
                    "current_by_rule": preview.current.by_rule,
                    "firings_by_rule": proposed.firings_by_rule,
                    "message": message,
                }
            ).data
        )


class DeviceThresholdHistoryView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_threshold_history",
        responses=ThresholdHistorySerializer(many=True),
        description="Threshold changes of the device and of its cohort, newest first (200).",
    )
    def get(self, request, device_id: str):
        device = _device(request, device_id)
        return Response(
            ThresholdHistorySerializer(history_for(device)[:HISTORY_LIMIT], many=True).data
        )


class DeviceThresholdRevertView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_threshold_revert",
        request=RevertSerializer,
        responses={201: ThresholdHistorySerializer},
        description=(
            "Put the value back to what it was before this change (no override if there was "
            "none), recorded as a new change. Device changes: operators in scope and admins; "
            "cohort changes: ML engineers and admins."
        ),
    )
    def post(self, request, device_id: str, history_id: int):
        device = _device(request, device_id)
        entry = get_object_or_404(history_for(device), pk=history_id)
        allowed = (
            request.profile.can_triage
            if entry.scope == ThresholdScope.DEVICE
            else request.profile.can_manage_models
        )
        if not allowed:
            raise PermissionDenied(
                CanTriageOrReadOnly.message
                if entry.scope == ThresholdScope.DEVICE
                else CanManageModelsOrReadOnly.message
            )
        data = _valid(RevertSerializer, request.data)
        try:
            reverted = threshold_revert(
                entry=entry, actor=request.user.get_username(), reason=data["reason"]
            )
        except ThresholdError as exc:
            # e.g. a parameter the rules no longer have, or a value now at odds with others
            raise ValidationError({"detail": [str(exc)]}) from None
        return Response(ThresholdHistorySerializer(reverted).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------- cohort thresholds


class CohortThresholdsView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="cohort_thresholds_list",
        responses=CohortThresholdSerializer(many=True),
        description="A cohort's overrides of every streaming-rule parameter, with defaults.",
    )
    def get(self, request, cohort_id: str):
        cohort = get_object_or_404(Cohort, pk=cohort_id)
        return Response(
            CohortThresholdSerializer([_cohort_row(cohort, p) for p in CATALOGUE], many=True).data
        )


class CohortThresholdView(APIView):
    permission_classes = [CanManageModelsOrReadOnly]

    @extend_schema(
        operation_id="cohort_threshold_set",
        request=ThresholdChangeSerializer,
        responses=CohortThresholdChangedSerializer,
        description=(
            "Set a cohort's override of one parameter (ML engineers and admins); every device "
            "of the cohort without its own override uses it."
        ),
    )
    def put(self, request, cohort_id: str, parameter: str):
        cohort = get_object_or_404(Cohort, pk=cohort_id)
        _parameter(parameter)
        data = _valid(ThresholdChangeSerializer, request.data, parameter)
        return _changed(
            request,
            CohortThresholdChangedSerializer,
            lambda: _cohort_row(cohort, parameter),
            parameter=parameter,
            value=data["value"],
            cohort=cohort,
            reason=data["reason"],
        )

    @extend_schema(
        operation_id="cohort_threshold_remove",
        request=ThresholdRemoveSerializer,
        responses={200: CohortThresholdChangedSerializer, 400: REMOVE_REFUSED},
        description="Remove a cohort's override: its devices fall back to the default.",
    )
    def delete(self, request, cohort_id: str, parameter: str):
        cohort = get_object_or_404(Cohort, pk=cohort_id)
        _parameter(parameter)
        data = _valid(ThresholdRemoveSerializer, request.data)
        if _cohort_row(cohort, parameter)["cohort_value"] is None:
            raise ValidationError(
                {"parameter": [f"cohort {cohort.pk} has no override of {parameter} to remove"]}
            )
        return _changed(
            request,
            CohortThresholdChangedSerializer,
            lambda: _cohort_row(cohort, parameter),
            parameter=parameter,
            value=None,
            cohort=cohort,
            reason=data["reason"],
        )
