"""Out of service over HTTP: POST /api/v1/devices/<id>/out-of-service/ and .../return-to-service/.

Refusals as the alert actions: no role or a read-only role → 403; device out of scope →
404; bad input → 400 per field; not possible in the device's state → 409 with the reason.
On success the answer is the device detail (as GET /api/v1/devices/<id>/).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.permissions import CanTriageOrReadOnly
from fleetmon.accounts.scopes import scoped_devices
from fleetmon.registry import out_of_service
from fleetmon.registry.api import DeviceDetailSerializer, device_detail

NOTE_MAX = 4000


class TakeOutOfServiceInput(serializers.Serializer):
    reason = serializers.CharField(max_length=NOTE_MAX, help_text="why it is set aside")
    until = serializers.DateTimeField(help_text="when it returns to service by itself")


class ReturnToServiceInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX)


class DeviceConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _schema(operation_id: str, request, summary: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=request,
        responses={
            200: DeviceDetailSerializer,
            400: OpenApiResponse(description="invalid input: messages per field"),
            403: OpenApiResponse(description="your role may not change devices"),
            404: OpenApiResponse(description="no such device in your scope"),
            409: OpenApiResponse(DeviceConflictSerializer, description="not in the device's state"),
        },
    )


class DeviceServiceActionView(APIView):
    permission_classes = [CanTriageOrReadOnly]
    input_serializer: type[serializers.Serializer]

    def perform(self, device_id: str, data: dict, actor: str) -> None:
        raise NotImplementedError

    def post(self, request, device_id: str):
        device = get_object_or_404(scoped_devices(request.profile), pk=device_id)
        given = self.input_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            self.perform(device.pk, given.validated_data, request.user.get_username())
        except out_of_service.InvalidOutOfService as invalid:
            raise ValidationError({invalid.field: [str(invalid)]}) from invalid
        except out_of_service.OutOfServiceConflict as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        detail = device_detail(request.profile, device.pk)
        return Response(DeviceDetailSerializer(detail).data)


class TakeOutOfServiceView(DeviceServiceActionView):
    input_serializer = TakeOutOfServiceInput

    @_schema(
        "device_take_out_of_service",
        TakeOutOfServiceInput,
        "take a device out of service until a time: it raises no alert meanwhile",
    )
    def post(self, request, device_id: str):
        return super().post(request, device_id)

    def perform(self, device_id, data, actor):
        out_of_service.device_take_out_of_service(
            device_id=device_id, actor=actor, reason=data["reason"], until=data["until"]
        )


class ReturnToServiceView(DeviceServiceActionView):
    input_serializer = ReturnToServiceInput

    @_schema("device_return_to_service", ReturnToServiceInput, "return a device to service now")
    def post(self, request, device_id: str):
        return super().post(request, device_id)

    def perform(self, device_id, data, actor):
        out_of_service.device_return_to_service(
            device_id=device_id, actor=actor, note=data.get("note", "")
        )
