"""JSON API of the ML engineer dashboard and the data-health page, under
/api/v1/monitoring/ml/ and /api/v1/monitoring/data/. For ML engineers and admins only
(operators and managers: 403); the same reads as the pages (monitoring.ml_dashboard)."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.models import Role
from fleetmon.accounts.permissions import HasProfile
from monitoring import ml_charts
from monitoring import ml_dashboard as reads
from monitoring.data_quality import COMPLETENESS_MIN_MEDIAN
from monitoring.infra.api import MonitorAlertSerializer  # one shape for monitor alerts
from monitoring.models import (
    DataQualityDailySummary,
    DataQualityHourly,
    DataQualityMetric,
    ModelRunMetric,
)
from scoring.models import ScoringRun

ML_ROLES = (Role.ML_ENGINEER, Role.ADMIN)


class CanSeeMlDashboards(HasProfile):
    message = "the ML and data-health dashboards are for ML engineers and admins"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.profile.role in ML_ROLES


class MlView(APIView):
    permission_classes = [CanSeeMlDashboards]


# ---------------------------------------------------------------- serializers


class MonitoringFigureSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    figure = serializers.DictField(help_text="a plotly figure: data and layout")


class MonitoringFiguresSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    figures = MonitoringFigureSerializer(many=True)


class RunFigureSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    devices = serializers.IntegerField()
    run_id = serializers.IntegerField()
    window_end = serializers.DateTimeField()


class PairSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField())
    value = serializers.FloatField()
    devices = serializers.IntegerField()
    run_id = serializers.IntegerField()


class AgreementSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="pairwise flag agreement, models x models; 1 on the diagonal",
    )
    pairs = PairSerializer(many=True)
    unanimous = RunFigureSerializer(allow_null=True)
    high_score_disagreements = RunFigureSerializer(allow_null=True)


class RatePointSerializer(serializers.Serializer):
    window_end = serializers.DateTimeField()
    anomaly_rate = serializers.FloatField()


class ContaminationSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    kind = serializers.CharField()
    target = serializers.FloatField(allow_null=True)
    points = RatePointSerializer(many=True)


class ModelFeedbackSerializer(serializers.Serializer):
    model_id = serializers.CharField(help_text="the alert's model or streaming rule")
    alerts = serializers.IntegerField()
    false_positives = serializers.IntegerField()
    fp_rate = serializers.FloatField(allow_null=True)


class FeedbackSerializer(serializers.Serializer):
    fp_rate_30d = serializers.FloatField(allow_null=True, help_text="D9 SLA figure")
    alerts_30d = serializers.IntegerField()
    fp_rate_7d = serializers.FloatField(allow_null=True, help_text="D9 trigger figure")
    alerts_7d = serializers.IntegerField()
    per_model = ModelFeedbackSerializer(many=True, help_text="30 days")
    hit_rate = serializers.FloatField(
        allow_null=True, help_text="share of HIGH/CRITICAL alerts followed by maintenance"
    )
    hit_rate_alerts = serializers.IntegerField()


class FlaggedDeviceSerializer(serializers.Serializer):
    device_id = serializers.CharField()
    site_id = serializers.CharField()
    region = serializers.CharField()
    cohort_id = serializers.CharField()
    flags = serializers.IntegerField()
    models = serializers.IntegerField()
    max_score = serializers.FloatField()
    last_flagged = serializers.DateTimeField()


class ComparisonRunSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    window_end = serializers.DateTimeField()
    devices = serializers.IntegerField()
    mean_abs_diff = serializers.FloatField()
    contamination_change = serializers.FloatField()
    top_overlap = serializers.FloatField()
    kl_divergence = serializers.FloatField()
    passed = serializers.BooleanField()
    failures = serializers.ListField(child=serializers.CharField())


class SharedHistogramsSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    candidate = serializers.ListField(child=serializers.FloatField())
    champion = serializers.ListField(child=serializers.FloatField())


class ChallengerSerializer(serializers.Serializer):
    candidate = serializers.CharField()
    role = serializers.CharField()
    kind = serializers.CharField()
    champion = serializers.CharField(allow_null=True)
    canary = serializers.DictField(allow_null=True, help_text="the latest canary report")
    regression = serializers.DictField(allow_null=True, help_text="the regression report")
    history = ComparisonRunSerializer(many=True)
    histograms = SharedHistogramsSerializer(allow_null=True)


class TriggerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trigger_kind = serializers.CharField()
    model_kind = serializers.CharField()
    fired_at = serializers.DateTimeField()
    summary = serializers.CharField()
    automated = serializers.BooleanField()
    requested_by = serializers.CharField()
    action = serializers.CharField()
    status = serializers.CharField()
    candidate = serializers.CharField(allow_null=True)
    outcome_reasons = serializers.ListField(child=serializers.CharField())


class RegistryEventSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    action = serializers.CharField()
    from_role = serializers.CharField()
    to_role = serializers.CharField()
    actor = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class MlSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    feedback = FeedbackSerializer()
    agreement = AgreementSerializer()
    contamination = ContaminationSerializer(many=True)
    top_flagged = FlaggedDeviceSerializer(many=True, help_text="last 24 h")
    champion_challenger = ChallengerSerializer(many=True)
    retraining_triggers = TriggerSerializer(many=True, help_text="newest first")
    registry_events = RegistryEventSerializer(many=True)
    open_monitors = MonitorAlertSerializer(many=True, help_text="model-layer monitors")


class DriftQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=[60, 1440], default=60, required=False)
    cohort = serializers.CharField(required=False, default="", allow_blank=True)
    trend = serializers.IntegerField(min_value=1, max_value=48, default=6, required=False)


class DriftRowSerializer(serializers.Serializer):
    feature = serializers.CharField()
    ks_statistic = serializers.FloatField(allow_null=True)
    ks_p_value = serializers.FloatField(allow_null=True)
    psi = serializers.FloatField(allow_null=True)
    severity = serializers.CharField()
    ks_exceeded = serializers.BooleanField()
    drifting = serializers.BooleanField()
    ks_trend = serializers.ListField(child=serializers.FloatField(allow_null=True))
    psi_trend = serializers.ListField(child=serializers.FloatField(allow_null=True))


class DriftTableSerializer(serializers.Serializer):
    window_end = serializers.DateTimeField(allow_null=True)
    minutes = serializers.IntegerField()
    cohort_id = serializers.CharField(help_text="blank: the fleet")
    trend_ends = serializers.ListField(child=serializers.DateTimeField(), required=False)
    features_drifting = serializers.IntegerField(allow_null=True, required=False)
    pipeline_suspect = serializers.BooleanField(allow_null=True, required=False)
    rows = DriftRowSerializer(many=True)


class RunMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelRunMetric
        fields = [
            "model_id",
            "kind",
            "deployment_role",
            "metric",
            "slice",
            "value",
            "baseline",
            "devices",
            "window_end",
            "window_minutes",
        ]


class HoursSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=168, default=24, required=False)


class HourlyQuerySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=DataQualityMetric.choices)
    hours = serializers.IntegerField(min_value=1, max_value=720, default=48, required=False)
    scope = serializers.CharField(required=False, default="", allow_blank=True)
    key = serializers.CharField(required=False)


class HourlySerializer(serializers.ModelSerializer):
    class Meta:
        model = DataQualityHourly
        fields = [
            "hour",
            "metric",
            "scope",
            "key",
            "value",
            "count",
            "total",
            "baseline",
            "flagged",
        ]


class DaysSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=14, required=False)


class DailySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = DataQualityDailySummary
        exclude = ["id"]


class SensorHourSerializer(serializers.Serializer):
    sensor = serializers.CharField()
    null_rate = serializers.FloatField(allow_null=True)
    null_baseline = serializers.FloatField(allow_null=True)
    null_flagged = serializers.BooleanField()
    availability = serializers.FloatField(allow_null=True)
    devices_reporting = serializers.IntegerField()
    devices = serializers.IntegerField()
    availability_flagged = serializers.BooleanField()


class FlagHourSerializer(serializers.Serializer):
    flag = serializers.CharField()
    rate = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    rows = serializers.IntegerField()
    flagged = serializers.BooleanField()


class CompletenessSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text="fleet, or a cohort")
    median = serializers.FloatField()
    windows = serializers.IntegerField()
    flagged = serializers.BooleanField()


class LatestHourSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(allow_null=True)
    readings = serializers.IntegerField(required=False)
    sensors = SensorHourSerializer(many=True, required=False)
    null_rate_by_model = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        required=False,
        help_text="equipment model -> sensor -> null rate",
    )
    flags = FlagHourSerializer(many=True, required=False)
    quarantine_rate = serializers.FloatField(allow_null=True, required=False)
    dead_letter_rate = serializers.FloatField(allow_null=True, required=False)
    completeness = CompletenessSerializer(many=True, required=False)


class DriftScopeSerializer(serializers.Serializer):
    scope = serializers.CharField()
    cohort_id = serializers.CharField()
    window_minutes = serializers.IntegerField()
    window_end = serializers.DateTimeField()
    features_total = serializers.IntegerField()
    features_exceeded = serializers.IntegerField()
    features_drifting = serializers.IntegerField()
    drifting_share = serializers.FloatField()
    pipeline_suspect = serializers.BooleanField()
    current_rows = serializers.IntegerField()
    drifting = serializers.ListField(child=serializers.CharField())


class SkewRowSerializer(serializers.Serializer):
    check = serializers.CharField()
    feature = serializers.CharField()
    training = serializers.FloatField(allow_null=True)
    serving = serializers.FloatField(allow_null=True)
    statistic = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField()
    breached = serializers.BooleanField()


class SkewModelSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    window_end = serializers.DateTimeField()
    checks = serializers.IntegerField()
    breaches = serializers.IntegerField()
    rows = SkewRowSerializer(many=True, help_text="breaches first, at most 15")


class DataSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    latest_hour = LatestHourSerializer()
    drift = DriftScopeSerializer(many=True)
    skew = SkewModelSerializer(many=True)
    daily = DailySummarySerializer(many=True, help_text="the last 14 days")
    open_monitors = MonitorAlertSerializer(many=True, help_text="data-layer monitors")


# ---------------------------------------------------------------- figures


def ml_figures(now) -> list[dict]:
    figures = [
        {
            "id": f"histogram-{entry['model_id']}",
            "title": f"{entry['model_id']} score distribution",
            "figure": ml_charts.score_histogram_figure(entry),
        }
        for entry in reads.score_histograms(now=now)
    ]
    figures.append(
        {
            "id": "agreement",
            "title": "Model agreement",
            "figure": ml_charts.agreement_figure(reads.agreement_matrix(now=now)),
        }
    )
    figures.append(
        {
            "id": "contamination",
            "title": "Contamination trend",
            "figure": ml_charts.contamination_figure(reads.contamination_trend(now=now)),
        }
    )
    figures += [
        {
            "id": f"challenger-{entry['candidate']}",
            "title": f"{entry['candidate']} vs {entry['champion']}",
            "figure": ml_charts.challenger_figure(entry),
        }
        for entry in reads.champion_challenger()
    ]
    return figures


def data_figures(now, hours: int = 48) -> list[dict]:
    x_range = ((now - timedelta(hours=hours)).isoformat(), now.isoformat())
    completeness = [
        {"hour": r.hour, "median": r.value}
        for r in reads.hourly_series(metric=DataQualityMetric.COMPLETENESS_MEDIAN, now=now)
    ]
    return [
        {
            "id": "null-rates",
            "title": "Null rate per sensor per hour",
            "figure": ml_charts.null_rate_figure(reads.null_rate_grid(now=now)),
        },
        {
            "id": "flag-mix",
            "title": "Quality-flag mix",
            "figure": ml_charts.flag_mix_figure(reads.flag_mix(now=now), x_range=x_range),
        },
        {
            "id": "completeness",
            "title": "Completeness",
            "figure": ml_charts.completeness_figure(
                completeness, limit=COMPLETENESS_MIN_MEDIAN, x_range=x_range
            ),
        },
    ]


# ---------------------------------------------------------------- views


def ml_summary(now) -> dict:
    return {
        "generated_at": now,
        "feedback": reads.feedback(now=now),
        "agreement": reads.agreement_matrix(now=now),
        "contamination": reads.contamination_trend(now=now),
        "top_flagged": reads.top_flagged_devices(now=now),
        "champion_challenger": reads.champion_challenger(),
        "retraining_triggers": reads.retraining_triggers(),
        "registry_events": reads.registry_events(),
        "open_monitors": reads.open_monitors(layers=("model",)),
    }


def data_summary(now) -> dict:
    return {
        "generated_at": now,
        "latest_hour": reads.latest_hour_figures(),
        "drift": reads.drift_by_cohort(),
        "skew": reads.skew_latest(),
        "daily": reads.daily_summaries(),
        "open_monitors": reads.open_monitors(layers=("data",)),
    }


class MlSummaryView(MlView):
    @extend_schema(
        operation_id="monitoring_ml_summary",
        responses=MlSummarySerializer,
        description=(
            "The ML engineer dashboard (domain §5.5, §7.6): operator FP rate (D9, 30 and 7 "
            "days) and alert hit rate, model x model agreement, contamination trend, the "
            "10 most-flagged devices of the last 24 h, champion vs challenger, retraining "
            "trigger history, model registry actions and the open model monitors."
        ),
    )
    def get(self, request):
        return Response(MlSummarySerializer(ml_summary(timezone.now())).data)


class MlFiguresView(MlView):
    @extend_schema(
        operation_id="monitoring_ml_figures",
        responses=MonitoringFiguresSerializer,
        description=(
            "The dashboard's plotly figures: score histogram per production model (last "
            "24 h vs the 7 days before), agreement heatmap, contamination trend, and one "
            "histogram overlay per candidate. The page polls it to stay live."
        ),
    )
    def get(self, request):
        now = timezone.now()
        return Response(
            MonitoringFiguresSerializer({"generated_at": now, "figures": ml_figures(now)}).data
        )


class DriftTableView(MlView):
    @extend_schema(
        operation_id="monitoring_ml_drift",
        parameters=[DriftQuerySerializer],
        responses=DriftTableSerializer,
        description=(
            "The newest drift window of the fleet (or of `cohort`) for 60- or 1440-minute "
            "windows: every feature sorted by KS statistic, with PSI, D8 severity, the "
            "three-window KS verdict and the KS and PSI of the last `trend` windows."
        ),
    )
    def get(self, request):
        query = DriftQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        table = reads.drift_table(
            minutes=int(query.validated_data["window"]),
            cohort_id=query.validated_data["cohort"],
            trend=query.validated_data["trend"],
        )
        return Response(DriftTableSerializer(table).data)


class RunMetricsView(MlView):
    @extend_schema(
        operation_id="monitoring_ml_run_metrics",
        responses=RunMetricSerializer(many=True),
        description=(
            "Every model-layer figure of one scoring run (model_run_metrics): per model "
            "version and slice, and across the production models (blank model_id)."
        ),
    )
    def get(self, request, run_id: int):
        run = get_object_or_404(ScoringRun, pk=run_id)
        rows = ModelRunMetric.objects.filter(run=run).order_by("model_id", "metric", "slice")
        return Response(RunMetricSerializer(rows, many=True).data)


class TopFlaggedView(MlView):
    @extend_schema(
        operation_id="monitoring_ml_top_flagged",
        parameters=[HoursSerializer],
        responses=FlaggedDeviceSerializer(many=True),
        description="The 10 devices production models flagged most in the last `hours`.",
    )
    def get(self, request):
        query = HoursSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = reads.top_flagged_devices(now=timezone.now(), hours=query.validated_data["hours"])
        return Response(FlaggedDeviceSerializer(rows, many=True).data)


class DataSummaryView(MlView):
    @extend_schema(
        operation_id="monitoring_data_summary",
        responses=DataSummarySerializer,
        description=(
            "The data-health page (domain §3.6, §5.2): the newest computed hour (null rate "
            "and availability per sensor, null rate per equipment model, flag rates against "
            "their 30-day rate, completeness), drift per cohort, training-serving skew per "
            "production model, the daily summaries and the open data monitors."
        ),
    )
    def get(self, request):
        return Response(DataSummarySerializer(data_summary(timezone.now())).data)


class DataHourlyView(MlView):
    @extend_schema(
        operation_id="monitoring_data_hourly",
        parameters=[HourlyQuerySerializer],
        responses=HourlySerializer(many=True),
        description=(
            "Stored hourly data-quality figures of one metric over the last `hours`, fleet "
            "(blank scope) or one equipment model or cohort, optionally one sensor or flag."
        ),
    )
    def get(self, request):
        query = HourlyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        rows = reads.hourly_series(
            metric=data["metric"],
            now=timezone.now(),
            hours=data["hours"],
            scope=data["scope"],
            key=data.get("key"),
        )
        return Response(HourlySerializer(rows, many=True).data)


class DataDailyView(MlView):
    @extend_schema(
        operation_id="monitoring_data_daily",
        parameters=[DaysSerializer],
        responses=DailySummarySerializer(many=True),
        description="`data_quality_daily_summary` (domain §3.8), newest day first.",
    )
    def get(self, request):
        query = DaysSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = reads.daily_summaries(days=query.validated_data["days"])
        return Response(DailySummarySerializer(rows, many=True).data)


class DataFiguresView(MlView):
    @extend_schema(
        operation_id="monitoring_data_figures",
        responses=MonitoringFiguresSerializer,
        description=(
            "The data-health plotly figures (48 h): null rate per sensor per hour heatmap, "
            "quality-flag mix against the 30-day rate, median completeness."
        ),
    )
    def get(self, request):
        now = timezone.now()
        return Response(
            MonitoringFiguresSerializer({"generated_at": now, "figures": data_figures(now)}).data
        )
