"""GET /api/v1/devices/<id>/history/: a device's downsampled sensor charts, scope-checked."""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.permissions import HasProfile
from fleetmon.accounts.scopes import scoped_devices
from fleetmon.readings.charts import sensor_figures
from fleetmon.readings.history import MAX_RANGE, sensor_history

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class HistoryQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(RANGES), required=False, default="24h")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    mark = serializers.DateTimeField(required=False, help_text="draw a line here (an alert)")

    def validate(self, data):
        end = data.get("end") or timezone.now()
        start = data.get("start") or end - RANGES[data["range"]]
        if end <= start:
            raise serializers.ValidationError({"end": "must be after start"})
        if end - start > MAX_RANGE:
            raise serializers.ValidationError({"start": f"at most {MAX_RANGE.days} days back"})
        return {**data, "start": start, "end": end}


class HistoryOutputSerializer(serializers.Serializer):
    device_id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket_minutes = serializers.IntegerField()
    points = serializers.IntegerField()
    figures = serializers.ListField(child=serializers.DictField())


class DeviceHistoryView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        parameters=[HistoryQuerySerializer],
        responses=HistoryOutputSerializer,
        description=(
            "Sensor charts (plotly figures) of one device in your scope, averaged in SQL into "
            "at most 720 buckets; defrost and door-open shares are shaded. `range` is 24h, 7d "
            "or 30d back from `end` (default now), unless `start` is given."
        ),
    )
    def get(self, request, device_id: str):
        device = get_object_or_404(scoped_devices(request.profile), pk=device_id)
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        history = sensor_history(device_id=device.pk, start=q["start"], end=q["end"])
        marks = {"alert": q["mark"]} if q.get("mark") else None
        return Response(
            {
                "device_id": device.pk,
                "start": q["start"],
                "end": q["end"],
                "bucket_minutes": history.bucket_minutes,
                "points": len(history.times),
                "figures": sensor_figures(history, marks),
            }
        )
