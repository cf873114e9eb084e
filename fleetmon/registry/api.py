"""Registry API of the operator console: a device with its alerts, maintenance and scores;
sites with their devices; the management overview. Everything is cut to the user's scope
(out of scope: 404)."""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.models import Role
from fleetmon.accounts.permissions import HasProfile
from fleetmon.accounts.scopes import scoped_alerts, scoped_devices, scoped_sites
from fleetmon.readings.api import RANGES
from fleetmon.registry import summaries
from fleetmon.registry.charts import score_figure
from fleetmon.registry.models import Device
from fleetmon.registry.out_of_service import current_period
from fleetmon.registry.overview import SEVERITIES, fleet_overview

# ---------------------------------------------------------------- serializers


class AlertBriefSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField()
    device_id = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    alert_created_at = serializers.DateTimeField()
    sla_deadline = serializers.DateTimeField()
    sla_breached = serializers.BooleanField()
    url = serializers.SerializerMethodField()

    def get_url(self, alert) -> str:
        return f"/alerts/{alert.alert_id}/"


class MaintenanceSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    event_type = serializers.CharField()
    priority = serializers.CharField()
    scheduled_date = serializers.DateTimeField()
    completed_date = serializers.DateTimeField(allow_null=True)
    technician_id = serializers.CharField()
    work_description = serializers.CharField()
    parts_replaced = serializers.ListField(child=serializers.CharField())
    triggered_by_alert_id = serializers.UUIDField(allow_null=True)
    pre_maintenance_anomaly_score = serializers.FloatField(allow_null=True)
    post_maintenance_anomaly_score = serializers.FloatField(allow_null=True)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class LatestScoreSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    model_version = serializers.CharField()
    deployment_role = serializers.CharField()
    anomaly_score = serializers.FloatField()
    anomaly_flag = serializers.BooleanField()
    window_end = serializers.DateTimeField()


class DeviceSerializer(serializers.ModelSerializer):
    """Domain §7.1 Device, with its site's name and the console's roll-ups."""

    site_name = serializers.CharField(source="site.site_name")
    model = serializers.CharField(source="equipment_model")
    last_reading_timestamp = serializers.DateTimeField(source="last_reading_at", allow_null=True)

    class Meta:
        model = Device
        fields = [
            "device_id",
            "region",
            "site_id",
            "site_name",
            "cohort_id",
            "model",
            "install_date",
            "firmware_version",
            "is_active",
            "last_reading_timestamp",
            "latest_anomaly_score",
            "anomaly_trend",
            "health_status",
            "dropout_state",
            "dropout_checked_at",
            "worst_open_severity",
            "avg_temperature_evaporator_24h",
            "avg_compressor_current_24h",
            "reading_count_24h",
        ]


class OutOfServiceSerializer(serializers.Serializer):
    reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    until = serializers.DateTimeField()
    taken_by = serializers.CharField()


class DeviceDetailSerializer(DeviceSerializer):
    open_alerts = AlertBriefSerializer(many=True)
    maintenance = MaintenanceSerializer(many=True)
    latest_scores = LatestScoreSerializer(many=True)
    out_of_service = OutOfServiceSerializer(
        allow_null=True, help_text="the current out-of-service period; null when in service"
    )

    class Meta(DeviceSerializer.Meta):
        fields = [
            *DeviceSerializer.Meta.fields,
            "open_alerts",
            "maintenance",
            "latest_scores",
            "out_of_service",
        ]


class RangeSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(RANGES), required=False, default="7d")


class FiguresSerializer(serializers.Serializer):
    device_id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket_minutes = serializers.IntegerField()
    figures = serializers.ListField(child=serializers.DictField())


class SiteSerializer(serializers.Serializer):
    site_id = serializers.CharField()
    site_name = serializers.CharField()
    address = serializers.CharField()
    region = serializers.CharField()
    climate_zone = serializers.CharField()
    site_type = serializers.CharField()
    site_manager = serializers.CharField()
    maintenance_contact = serializers.CharField()
    device_count = serializers.IntegerField(help_text="active devices")
    devices_in_alert = serializers.IntegerField(help_text="devices with an open alert")
    open_alert_count = serializers.IntegerField()
    avg_anomaly_score = serializers.FloatField(allow_null=True)
    devices_by_health = serializers.SerializerMethodField()
    health_status = serializers.SerializerMethodField(help_text="healthy | degraded | critical")

    def get_devices_by_health(self, site) -> dict[str, int]:
        return {
            "healthy": site.healthy_count,
            "warning": site.warning_count,
            "critical": site.critical_count,
            "offline": site.offline_count,
        }

    def get_health_status(self, site) -> str:
        return summaries.site_health(site)


class SiteDeviceSerializer(serializers.Serializer):
    device_id = serializers.CharField()
    equipment_model = serializers.CharField()
    cohort_id = serializers.CharField()
    is_active = serializers.BooleanField()
    health_status = serializers.CharField()
    dropout_state = serializers.CharField()
    latest_anomaly_score = serializers.FloatField(allow_null=True)
    anomaly_trend = serializers.CharField()
    last_reading_at = serializers.DateTimeField(allow_null=True)
    open_alert_count = serializers.IntegerField()
    out_of_service_until = serializers.SerializerMethodField()

    def get_out_of_service_until(self, device) -> datetime | None:
        """Set while the device is out of service (a lapsed period reads as null)."""
        return device.out_of_service_until if device.is_out_of_service(timezone.now()) else None


class SiteDetailSerializer(SiteSerializer):
    devices = SiteDeviceSerializer(source="devices_list", many=True)
    open_alerts = AlertBriefSerializer(many=True)


def _severity_counts() -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField())


class DevicesMonitoredSerializer(serializers.Serializer):
    active = serializers.IntegerField(help_text="active devices in service")
    by_health = _severity_counts()
    out_of_service = serializers.IntegerField(help_text="active devices out of service")


class WeekOverWeekSerializer(serializers.Serializer):
    this_week = _severity_counts()
    last_week = _severity_counts()
    change = _severity_counts()
    this_week_total = serializers.IntegerField()
    last_week_total = serializers.IntegerField()


class WeekSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    counts = _severity_counts()


class SlaSerializer(serializers.Serializer):
    met = serializers.IntegerField(help_text="answered at or before the deadline")
    breached = serializers.IntegerField(help_text="answered late, or unanswered past it")
    pending = serializers.IntegerField(help_text="unanswered, not yet due")
    compliance = serializers.FloatField(allow_null=True, help_text="met / (met + breached)")


class TimeToMaintenanceSerializer(serializers.Serializer):
    alerts = serializers.IntegerField(help_text="HIGH and CRITICAL alerts in the last 30 days")
    with_maintenance = serializers.IntegerField()
    mean_hours = serializers.FloatField(allow_null=True)
    median_hours = serializers.FloatField(allow_null=True)


class OverviewSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    devices = DevicesMonitoredSerializer()
    week_over_week = WeekOverWeekSerializer()
    weeks = WeekSerializer(many=True)
    sla = serializers.DictField(
        child=SlaSerializer(), help_text=f"per severity ({', '.join(SEVERITIES)}) and ALL"
    )
    time_to_maintenance = TimeToMaintenanceSerializer()


# ---------------------------------------------------------------- devices


def device_detail(profile, device_id: str) -> dict:
    """A device in scope with its open alerts, maintenance history and latest scores."""
    device = get_object_or_404(
        scoped_devices(profile).select_related("site", "cohort"), pk=device_id
    )
    device.open_alerts = list(summaries.open_alerts(device=device)[: summaries.OPEN_ALERT_LIMIT])
    device.maintenance = list(summaries.maintenance_history(device))
    device.latest_scores = summaries.latest_scores(device)
    device.out_of_service = current_period(device, timezone.now())
    return device


class DeviceDetailView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_detail",
        responses=DeviceDetailSerializer,
        description=(
            "A device in your scope: its properties (domain §7.1), health and dropout state, "
            "latest score and trend, open alerts, maintenance history and the newest score "
            "of each model."
        ),
    )
    def get(self, request, device_id: str):
        return Response(DeviceDetailSerializer(device_detail(request.profile, device_id)).data)


class DeviceScoreChartView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="device_score_chart",
        parameters=[RangeSerializer],
        responses=FiguresSerializer,
        description=(
            "The device's score history per model over the last 24h, 7d or 30d as a plotly "
            "figure (highest score per bucket, bucketed in SQL)."
        ),
    )
    def get(self, request, device_id: str):
        device = get_object_or_404(scoped_devices(request.profile), pk=device_id)
        query = RangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        end = timezone.now()
        start = end - RANGES[query.validated_data["range"]]
        history = summaries.score_history(device_id=device.pk, start=start, end=end)
        return Response(
            {
                "device_id": device.pk,
                "start": start,
                "end": end,
                "bucket_minutes": history.bucket_minutes,
                "figures": [
                    {
                        "id": "scores",
                        "title": "Score history",
                        "figure": score_figure(history, start=start, end=end),
                    }
                ],
            }
        )


# ---------------------------------------------------------------- sites


class SitePagination(PageNumberPagination):
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"


class SiteListView(GenericAPIView):
    permission_classes = [HasProfile]
    pagination_class = SitePagination
    serializer_class = SiteSerializer

    @extend_schema(
        operation_id="sites_list",
        responses=SiteSerializer(many=True),
        description=(
            "Sites in your scope with device counts by health, devices in alert, open "
            "alerts, mean anomaly score and site health (critical: a device is critical; "
            "degraded: a device is warning or offline). Paginated (page, page_size)."
        ),
    )
    def get(self, request):
        sites = summaries.sites_with_stats(scoped_sites(request.profile)).order_by("site_id")
        page = self.paginate_queryset(sites)
        return self.get_paginated_response(SiteSerializer(page, many=True).data)


def site_detail(profile, site_id: str):
    site = get_object_or_404(summaries.sites_with_stats(scoped_sites(profile)), pk=site_id)
    site.devices_list = list(summaries.site_devices(site))
    now = timezone.now()
    for device in site.devices_list:
        device.out_of_service_now = device.is_out_of_service(now)
    site.open_alerts = list(summaries.open_alerts(site=site)[: summaries.OPEN_ALERT_LIMIT])
    return site


class SiteDetailView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="site_detail",
        responses=SiteDetailSerializer,
        description="A site in your scope with its devices (worst health first) and open alerts.",
    )
    def get(self, request, site_id: str):
        return Response(SiteDetailSerializer(site_detail(request.profile, site_id)).data)


# ---------------------------------------------------------------- overview

OVERVIEW_ROLES = (Role.MANAGER, Role.ADMIN, Role.ML_ENGINEER)


class CanSeeOverview(HasProfile):
    message = "the management overview is for managers, ML engineers and admins"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.profile.role in OVERVIEW_ROLES


def overview_for(profile) -> dict:
    return fleet_overview(
        devices=scoped_devices(profile), alerts=scoped_alerts(profile), now=timezone.now()
    )


class OverviewView(APIView):
    permission_classes = [CanSeeOverview]

    @extend_schema(
        operation_id="overview",
        responses=OverviewSerializer,
        description=(
            "The management overview: active devices by health; alerts by severity this "
            "week (the last 7 days) against the 7 days before, and per week over 8 weeks; "
            "SLA compliance per severity over 30 days (answered at or before the deadline); "
            "mean time from a HIGH or CRITICAL alert to its first maintenance event."
        ),
    )
    def get(self, request):
        return Response(OverviewSerializer(overview_for(request.profile)).data)
