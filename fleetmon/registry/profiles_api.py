"""Equipment profiles API: /api/v1/equipment-profiles/ (list, create), .../<model>/ (read,
replace, change), .../<model>/history/ (every change, newest first).

Everyone with a role reads; ML engineers and admins write, with a reason. Types are
checked here; what a profile may hold is `fleetmon.registry.profiles.profile_errors`, via
the service, and comes back as 400 with the messages per field.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.permissions import CanManageModelsOrReadOnly
from fleetmon.registry.models import (
    DefrostType,
    EquipmentProfile,
    EquipmentProfileHistory,
    ProductClass,
)
from fleetmon.registry.profiles import PROFILE_FIELDS, profile_values
from fleetmon.registry.services import ProfileError, equipment_profile_save
from fleetmon.sensors import SENSOR_NAMES

HISTORY_LIMIT = 200
REASON_MESSAGES = {
    "required": "a reason is required",
    "blank": "a reason is required",
    "null": "a reason is required",
}


class CanEditProfilesOrReadOnly(CanManageModelsOrReadOnly):
    message = "only ML engineers and admins may change equipment profiles"


# ---------------------------------------------------------------- serializers


class RangeSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()


class EquipmentProfileSerializer(serializers.Serializer):
    equipment_model = serializers.CharField(help_text="Device.equipment_model, e.g. WF-5HP")
    description = serializers.CharField()
    sensors = serializers.ListField(
        child=serializers.CharField(), help_text="the sensors units of this model carry"
    )
    defrost_type = serializers.ChoiceField(choices=DefrostType.choices)
    defrost_interval_hours = serializers.FloatField(
        allow_null=True, help_text="usual time between defrosts; null when it does not defrost"
    )
    defrost_max_minutes = serializers.IntegerField(
        allow_null=True, help_text="longest normal defrost; null when it does not defrost"
    )
    product_class = serializers.ChoiceField(
        choices=ProductClass.choices, help_text="chilled or frozen: the food-safety limit"
    )
    normal_ranges = serializers.DictField(
        child=RangeSerializer(),
        help_text="per sensor, where a healthy unit's readings stay outside defrost",
    )
    updated_at = serializers.DateTimeField()
    updated_by = serializers.CharField()


class EquipmentProfileWriteSerializer(serializers.Serializer):
    """A whole profile (create or replace), with the reason for the change."""

    equipment_model = serializers.CharField(max_length=32)
    description = serializers.CharField(
        max_length=200, allow_blank=True, required=False, default=""
    )
    sensors = serializers.ListField(
        child=serializers.ChoiceField(choices=SENSOR_NAMES), allow_empty=False
    )
    defrost_type = serializers.ChoiceField(choices=DefrostType.choices)
    defrost_interval_hours = serializers.FloatField(allow_null=True, required=False, default=None)
    defrost_max_minutes = serializers.IntegerField(allow_null=True, required=False, default=None)
    product_class = serializers.ChoiceField(choices=ProductClass.choices)
    normal_ranges = serializers.DictField(child=RangeSerializer(), required=False, default=dict)
    reason = serializers.CharField(max_length=2000, error_messages=REASON_MESSAGES)


class EquipmentProfileReplaceSerializer(EquipmentProfileWriteSerializer):
    """A whole profile for the model named in the URL."""

    equipment_model = serializers.CharField(
        max_length=32, required=False, help_text="optional; must match the URL"
    )


class EquipmentProfileChangeSerializer(EquipmentProfileReplaceSerializer):
    """Some fields of a profile; the others keep their values. A reason is still required."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not DRF's partial=True: that would let the reason be left out too. Without their
        # defaults, fields that are not given are absent, not reset.
        for name, field in self.fields.items():
            if name != "reason":
                field.required, field.default = False, empty


class EquipmentProfileHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = EquipmentProfileHistory
        fields = [
            "id",
            "equipment_model",
            "action",
            "old_values",
            "new_values",
            "changed_by",
            "changed_at",
            "reason",
        ]


# ---------------------------------------------------------------- helpers


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _save(request, values: dict, reason: str) -> EquipmentProfile:
    """Write through the service as the signed-in user; refusals become 400 per field."""
    try:
        return equipment_profile_save(
            values=values, actor=request.user.get_username(), reason=reason
        )
    except ProfileError as exc:
        raise ValidationError(exc.errors) from None


def _same_model(given: dict, equipment_model: str) -> None:
    if given.get("equipment_model", equipment_model) != equipment_model:
        raise ValidationError(
            {"equipment_model": [f"does not match the URL ({equipment_model}): no renaming"]}
        )


# ---------------------------------------------------------------- views


class EquipmentProfileListView(APIView):
    permission_classes = [CanEditProfilesOrReadOnly]

    @extend_schema(
        operation_id="equipment_profiles_list",
        responses=EquipmentProfileSerializer(many=True),
        description="Every equipment profile: sensors, defrost, product class, normal ranges.",
    )
    def get(self, request):
        profiles = EquipmentProfile.objects.all()
        return Response(EquipmentProfileSerializer(profiles, many=True).data)

    @extend_schema(
        operation_id="equipment_profiles_create",
        request=EquipmentProfileWriteSerializer,
        responses={201: EquipmentProfileSerializer},
        description=(
            "Create the profile of an equipment model (ML engineers and admins), with a "
            "reason. 400 names each refused field."
        ),
    )
    def post(self, request):
        given = _valid(EquipmentProfileWriteSerializer, request.data)
        reason = given.pop("reason")
        if EquipmentProfile.objects.filter(pk=given["equipment_model"]).exists():
            raise ValidationError(
                {"equipment_model": ["a profile of this model exists; change it with PUT or PATCH"]}
            )
        profile = _save(request, given, reason)
        return Response(EquipmentProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class EquipmentProfileDetailView(APIView):
    permission_classes = [CanEditProfilesOrReadOnly]

    @extend_schema(operation_id="equipment_profile_detail", responses=EquipmentProfileSerializer)
    def get(self, request, equipment_model: str):
        profile = get_object_or_404(EquipmentProfile, pk=equipment_model)
        return Response(EquipmentProfileSerializer(profile).data)

    @extend_schema(
        operation_id="equipment_profile_replace",
        request=EquipmentProfileReplaceSerializer,
        responses=EquipmentProfileSerializer,
        description="Replace every field of a profile, with a reason (ML engineers, admins).",
    )
    def put(self, request, equipment_model: str):
        get_object_or_404(EquipmentProfile, pk=equipment_model)
        given = _valid(EquipmentProfileReplaceSerializer, request.data)
        _same_model(given, equipment_model)
        reason = given.pop("reason")
        profile = _save(request, {**given, "equipment_model": equipment_model}, reason)
        return Response(EquipmentProfileSerializer(profile).data)

    @extend_schema(
        operation_id="equipment_profile_change",
        request=EquipmentProfileChangeSerializer,
        responses=EquipmentProfileSerializer,
        description="Change some fields of a profile, with a reason (ML engineers, admins).",
    )
    def patch(self, request, equipment_model: str):
        current = get_object_or_404(EquipmentProfile, pk=equipment_model)
        given = _valid(EquipmentProfileChangeSerializer, request.data)
        _same_model(given, equipment_model)
        reason = given.pop("reason")
        values = {**profile_values(current), **given}
        profile = _save(request, {name: values[name] for name in PROFILE_FIELDS}, reason)
        return Response(EquipmentProfileSerializer(profile).data)


class EquipmentProfileHistoryView(APIView):
    permission_classes = [CanEditProfilesOrReadOnly]

    @extend_schema(
        operation_id="equipment_profile_history",
        responses=EquipmentProfileHistorySerializer(many=True),
        description=f"A profile's changes, newest first (at most {HISTORY_LIMIT}).",
    )
    def get(self, request, equipment_model: str):
        get_object_or_404(EquipmentProfile, pk=equipment_model)
        rows = EquipmentProfileHistory.objects.filter(equipment_model=equipment_model)
        return Response(EquipmentProfileHistorySerializer(rows[:HISTORY_LIMIT], many=True).data)
