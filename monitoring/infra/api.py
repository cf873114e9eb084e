"""Operations API: the ops dashboard as JSON, monitor alerts, and the system SLAs.

Open to ML engineers, managers and admins (the audiences of the operations dashboard);
operators are refused (403): these are platform alerts, not their devices' alerts.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import Severity
from fleetmon.accounts.permissions import HasProfile
from monitoring.models import MonitorAlert, MonitorLayer, MonitorStatus
from monitoring.ops_dashboard import ops_overview, runbook_link, sla_table

OPS_ROLES = ("ml_engineer", "manager", "admin")
FORBIDDEN = OpenApiResponse(description="not signed in, or an operator (not an ops audience)")


class CanReadOps(HasProfile):
    message = "the operations views are for ML engineers, managers and admins"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.profile.role in OPS_ROLES


# ---------------------------------------------------------------- serializers


class RunbookLinkSerializer(serializers.Serializer):
    slug = serializers.CharField()
    url = serializers.CharField()
    title = serializers.CharField()


class MonitorAlertSerializer(serializers.ModelSerializer):
    runbook = serializers.SerializerMethodField()

    class Meta:
        model = MonitorAlert
        fields = [
            "id",
            "monitor",
            "layer",
            "subject",
            "severity",
            "title",
            "description",
            "evidence",
            "runbook",
            "routed_to",
            "status",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "occurrences",
        ]

    @extend_schema_field(RunbookLinkSerializer(allow_null=True))
    def get_runbook(self, alert: MonitorAlert) -> dict | None:
        return runbook_link(alert.runbook)


class JobHealthSerializer(serializers.Serializer):
    task_name = serializers.CharField()
    task = serializers.CharField(help_text="the task's function name")
    state = serializers.ChoiceField(
        choices=["red", "amber", "green", "grey"],
        help_text="red: latest run failed; amber: slow, late, empty or retried; grey: never ran",
    )
    last_started_at = serializers.DateTimeField(allow_null=True)
    last_status = serializers.CharField(allow_blank=True)
    runtime_seconds = serializers.FloatField(
        allow_null=True, help_text="of the latest successful run"
    )
    median_seconds = serializers.FloatField(
        allow_null=True, help_text="median of the successful runs before it (from 5 runs)"
    )
    runtime_ratio = serializers.FloatField(allow_null=True)
    delay_seconds = serializers.FloatField(
        allow_null=True, help_text="latest beat-sent run: start − due time"
    )
    rows = serializers.IntegerField(allow_null=True)
    runs_24h = serializers.IntegerField()
    failures_24h = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    findings = serializers.ListField(child=serializers.CharField())


class BeatHeartbeatSerializer(serializers.Serializer):
    last_seen_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True)
    ok = serializers.BooleanField()
    limit_seconds = serializers.FloatField()


class WorkerHeartbeatSerializer(serializers.Serializer):
    name = serializers.CharField()
    last_seen_at = serializers.DateTimeField()
    age_seconds = serializers.FloatField()
    ok = serializers.BooleanField()


class HeartbeatsSerializer(serializers.Serializer):
    beat = BeatHeartbeatSerializer()
    workers = WorkerHeartbeatSerializer(many=True)


class OpsQueueSerializer(serializers.Serializer):
    queue = serializers.CharField()
    depth = serializers.IntegerField(allow_null=True, help_text="null: broker unreachable")
    limit = serializers.IntegerField()
    ok = serializers.BooleanField(allow_null=True)


class ScoringPerformanceSerializer(serializers.Serializer):
    runs_24h = serializers.IntegerField()
    latency_p50_seconds = serializers.FloatField(allow_null=True)
    latency_p95_seconds = serializers.FloatField(allow_null=True)
    latency_p99_seconds = serializers.FloatField(allow_null=True)
    latency_limit_seconds = serializers.FloatField()
    latest_run_id = serializers.IntegerField(allow_null=True)
    latest_devices = serializers.IntegerField(allow_null=True)
    latest_seconds = serializers.FloatField(allow_null=True)
    latest_devices_per_minute = serializers.FloatField(allow_null=True)
    min_devices_per_minute = serializers.FloatField()


class DatasetFreshnessSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    label = serializers.CharField()
    sla_seconds = serializers.FloatField()
    lateness_seconds = serializers.FloatField(allow_null=True, help_text="null: no data at all")
    rows = serializers.IntegerField(allow_null=True, help_text="null: no row rule")
    latest_at = serializers.DateTimeField(allow_null=True)
    fresh = serializers.BooleanField(allow_null=True)
    severity = serializers.CharField(allow_blank=True)


class FreshnessSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField()
    live = serializers.BooleanField(help_text="read now, as no recent stored check exists")
    datasets = DatasetFreshnessSerializer(many=True)


class FreshnessHeatmapRowSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    label = serializers.CharField()
    ranks = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        help_text="worst state per hour: 0 fresh, 1 LOW .. 4 CRITICAL, null no check",
    )
    max_lateness_seconds = serializers.ListField(child=serializers.FloatField(allow_null=True))


class FreshnessHeatmapSerializer(serializers.Serializer):
    hours = serializers.ListField(child=serializers.DateTimeField())
    rows = FreshnessHeatmapRowSerializer(many=True)


class OpsEquipmentAlertsSerializer(serializers.Serializer):
    CRITICAL = serializers.IntegerField()
    HIGH = serializers.IntegerField()


class OpsReadingsHourSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    readings = serializers.IntegerField()


class OpsDropoutSerializer(serializers.Serializer):
    by_state = serializers.DictField(child=serializers.IntegerField())
    full_dropout = serializers.IntegerField()
    slack_above = serializers.IntegerField()
    page_above = serializers.IntegerField()


class OpsQuarantineSerializer(serializers.Serializer):
    quarantined_24h = serializers.IntegerField()
    dead_lettered_24h = serializers.IntegerField()
    clean_24h = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    alarm = serializers.BooleanField(help_text="share above 1 % (domain §3.6)")


class SystemSlaPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    value = serializers.FloatField(allow_null=True)
    met = serializers.BooleanField(allow_null=True)


class SystemSlaSerializer(serializers.Serializer):
    sla = serializers.CharField()
    title = serializers.CharField()
    method = serializers.CharField()
    unit = serializers.ChoiceField(choices=["seconds", "ratio"])
    target = serializers.FloatField()
    target_text = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    value_text = serializers.CharField()
    met = serializers.BooleanField(allow_null=True)
    measured_at = serializers.DateTimeField(allow_null=True)
    details = serializers.DictField()
    history = SystemSlaPointSerializer(many=True)


class OpsOverviewSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    jobs = JobHealthSerializer(many=True)
    heartbeats = HeartbeatsSerializer()
    queues = OpsQueueSerializer(many=True)
    scoring = ScoringPerformanceSerializer()
    freshness = FreshnessSerializer()
    freshness_heatmap = FreshnessHeatmapSerializer()
    equipment_alerts = OpsEquipmentAlertsSerializer()
    readings_per_hour = OpsReadingsHourSerializer(many=True)
    dropout = OpsDropoutSerializer()
    quarantine = OpsQuarantineSerializer()
    monitor_alerts = MonitorAlertSerializer(many=True)
    slas = SystemSlaSerializer(many=True)


class SystemSlaListSerializer(serializers.Serializer):
    slas = SystemSlaSerializer(many=True)


class MonitorAlertFilterSerializer(serializers.Serializer):
    layer = serializers.ChoiceField(choices=MonitorLayer.choices, required=False)
    status = serializers.ChoiceField(choices=MonitorStatus.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    monitor = serializers.CharField(required=False, max_length=64)


class SystemSlaFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        required=False, default=30, min_value=1, max_value=90, help_text="history span"
    )


# ---------------------------------------------------------------- views


class OpsAPIView(APIView):
    permission_classes = [CanReadOps]


class OpsOverviewView(OpsAPIView):
    @extend_schema(
        operation_id="monitoring_ops",
        responses={200: OpsOverviewSerializer, 403: FORBIDDEN},
        description=(
            "The operations dashboard: job health, heartbeats, queues, scoring latency and "
            "throughput, freshness now and per hour over 24 h, active CRITICAL/HIGH equipment "
            "alerts, readings per hour over 48 h, dropout, quarantine, open monitor alerts "
            "and the system SLAs."
        ),
    )
    def get(self, request):
        return Response(OpsOverviewSerializer(ops_overview(now=timezone.now())).data)


class MonitorAlertPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class MonitorAlertListView(OpsAPIView):
    pagination_class = MonitorAlertPagination

    @extend_schema(
        operation_id="monitoring_alerts_list",
        parameters=[MonitorAlertFilterSerializer],
        responses={
            200: MonitorAlertSerializer(many=True),
            400: OpenApiResponse(description="an unknown layer, status or severity"),
            403: FORBIDDEN,
        },
        description=(
            "Monitor alerts (pipeline, data, model and SLA problems; not equipment alerts), "
            "newest first, each with its runbook."
        ),
    )
    def get(self, request):
        filters = MonitorAlertFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        alerts = MonitorAlert.objects.filter(**filters.validated_data).order_by(
            "-last_seen_at", "-pk"
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return paginator.get_paginated_response(MonitorAlertSerializer(page, many=True).data)


class SlaListView(OpsAPIView):
    @extend_schema(
        operation_id="monitoring_slas",
        parameters=[SystemSlaFilterSerializer],
        responses={
            200: SystemSlaListSerializer,
            400: OpenApiResponse(description="days out of 1..90"),
            403: FORBIDDEN,
        },
        description="The five system SLAs: definition, latest measurement, and history.",
    )
    def get(self, request):
        filters = SystemSlaFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        now = timezone.now()
        rows = sla_table(now=now, days=filters.validated_data["days"])
        return Response(SystemSlaListSerializer({"slas": rows}).data)
