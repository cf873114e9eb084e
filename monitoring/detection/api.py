"""The detection scorecards as JSON, for ML engineers and admins (the dashboard's Detection
section; operators and managers get 403, anonymous callers 401).

GET /api/v1/monitoring/detection/        the latest scorecard, its trend, its worst rows,
                                         the real-label measures, gate replays
GET /api/v1/monitoring/detection/<id>/   one evaluation with its full scorecard
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetmon.accounts.authentication import UserTokenAuthentication
from monitoring.detection import charts, selectors
from monitoring.ml_api import CanSeeMlDashboards
from monitoring.models import DetectionEvaluation
from scoring.api.serializers import ErrorSerializer  # one Error component in the schema


def _inline_enum(values, description: str):
    """A choice field documented as an inline enum (named enum components would clash with
    the other models' `status`)."""

    @extend_schema_field({"type": "string", "enum": list(values), "description": description})
    class EnumField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=list(values), **kwargs)

    return EnumField


PurposeField = _inline_enum(
    DetectionEvaluation.Purpose.values, "scorecard, or one side of a D11 detection gate"
)
# TRICKY: one enum in several components needs a settings override to be named; the status
# enum is kept to the one component that can hold any status (the detail), and the brief
# rows say their status in words.
StatusField = _inline_enum(DetectionEvaluation.Status.values, "where the replay is")
STATUS_HELP = "running, succeeded or failed"

# ---------------------------------------------------------------- serializers


class TargetSerializer(serializers.Serializer):
    measure = serializers.CharField(help_text="a summary figure of the scorecard")
    label = serializers.CharField(help_text="the measure in words")
    target = serializers.CharField(help_text="e.g. '>= 0.95'")
    value = serializers.FloatField(allow_null=True)
    met = serializers.BooleanField(allow_null=True, help_text="null: not measured")


class FaultRowSerializer(serializers.Serializer):
    fault_type = serializers.CharField()
    kind = serializers.CharField(help_text="acute, operational, gradual or data")
    expected_severity = serializers.CharField()
    devices = serializers.IntegerField()
    alerted_any = serializers.IntegerField(help_text="faults with any alert, in time or not")
    detected = serializers.IntegerField(help_text="at the expected severity, in time")
    recall = serializers.FloatField(allow_null=True)
    failures_reached = serializers.IntegerField()
    latency_median_min = serializers.FloatField(allow_null=True, help_text="acute: after onset")
    latency_worst_min = serializers.FloatField(allow_null=True)
    lead_median_h = serializers.FloatField(allow_null=True, help_text="before the failure point")
    lead_worst_h = serializers.FloatField(allow_null=True)
    caught_first_by = serializers.DictField(
        child=serializers.IntegerField(), help_text="source:rule -> faults it caught first"
    )
    missed = serializers.ListField(child=serializers.CharField(), help_text="device ids")


class SeverityRateSerializer(serializers.Serializer):
    severity = serializers.CharField()
    rate = serializers.FloatField(allow_null=True, help_text="alerts per healthy device-day")


class HealthySerializer(serializers.Serializer):
    devices = serializers.IntegerField()
    device_days = serializers.FloatField()
    alerts_per_device_day = SeverityRateSerializer(many=True)
    high_critical_per_device_day = serializers.FloatField(allow_null=True)
    devices_with_high_critical = serializers.IntegerField()
    high_critical_alerts = serializers.IntegerField(help_text="on every device")
    high_critical_no_fault = serializers.IntegerField()
    d9_high_critical_no_fault_share = serializers.FloatField(allow_null=True)
    false_alarms_by_rule = serializers.DictField(
        child=serializers.IntegerField(), help_text="HIGH/CRITICAL hitting no fault, per rule"
    )


class OperatorsSerializer(serializers.Serializer):
    operators = serializers.IntegerField(help_text="one per region")
    alerts_per_operator_hour = serializers.FloatField(allow_null=True)
    peak_alerts_per_operator_hour = serializers.IntegerField()


class EventRowSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    events = serializers.IntegerField()
    alerts_by_severity = serializers.DictField(child=serializers.IntegerField())
    events_with_high_critical = serializers.IntegerField()
    alerts_by_rule = serializers.DictField(child=serializers.IntegerField())
    site_incidents = serializers.ListField(
        child=serializers.IntegerField(), help_text="per event: site incidents it opened"
    )


class ModelVersionUsedSerializer(serializers.Serializer):
    kind = serializers.CharField()
    model_id = serializers.CharField()
    version = serializers.CharField()
    threshold = serializers.FloatField(allow_null=True)
    training_rows = serializers.IntegerField(allow_null=True, required=False)
    window_minutes = serializers.IntegerField(allow_null=True, required=False)
    params = serializers.DictField(required=False)


class EvaluationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    requested_by = serializers.CharField()
    purpose = PurposeField()
    candidate = serializers.CharField(help_text="the candidate model_id of a gate replay")
    seed = serializers.IntegerField()
    devices = serializers.IntegerField()
    history_days = serializers.FloatField()
    test_days = serializers.FloatField()
    model_versions = ModelVersionUsedSerializer(many=True, help_text="production, per kind")
    thresholds = serializers.DictField(help_text="the streaming rule limits it ran with")
    targets_met = serializers.IntegerField(allow_null=True)
    targets_measured = serializers.IntegerField(allow_null=True)
    targets = TargetSerializer(many=True)
    faults = FaultRowSerializer(many=True)
    healthy = HealthySerializer(allow_null=True)
    operators = OperatorsSerializer(allow_null=True)
    events = EventRowSerializer(many=True, help_text="what each harmless event raised")
    error = serializers.CharField(help_text="why a failed replay failed")


class EvaluationDetailSerializer(EvaluationSerializer):
    status = StatusField()
    config = serializers.JSONField(help_text="the replay configuration")
    bootstrap = serializers.JSONField(help_text="what was trained and deployed, and why not")
    timings = serializers.DictField(child=serializers.FloatField(), help_text="seconds per phase")
    scorecard = serializers.JSONField(help_text="the full scorecard as stored")


class TrendPointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    seed = serializers.IntegerField()
    devices = serializers.IntegerField()
    acute_recall = serializers.FloatField(allow_null=True)
    gradual_recall = serializers.FloatField(allow_null=True)
    gradual_lead_median_h = serializers.FloatField(allow_null=True)
    healthy_high_critical_per_device_day = serializers.FloatField(allow_null=True)
    d9_share = serializers.FloatField(allow_null=True)
    targets_met = serializers.IntegerField(allow_null=True)
    targets_measured = serializers.IntegerField(allow_null=True)


class WorstFaultSerializer(serializers.Serializer):
    fault_type = serializers.CharField()
    kind = serializers.CharField()
    expected_severity = serializers.CharField()
    devices = serializers.IntegerField()
    detected = serializers.IntegerField()
    recall = serializers.FloatField(allow_null=True)
    alerted_late_or_weak = serializers.IntegerField(
        help_text="alerted, but after the deadline or below the expected severity"
    )
    never_alerted = serializers.IntegerField()
    missed = serializers.ListField(child=serializers.CharField(), help_text="device ids")


class WorstEventSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    events = serializers.IntegerField()
    high_critical = serializers.IntegerField(help_text="HIGH/CRITICAL alerts the events raised")
    events_with_high_critical = serializers.IntegerField()
    alerts_by_rule = serializers.DictField(child=serializers.IntegerField())


class WorstRuleSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="source:rule or source:model_id")
    high_critical_no_fault = serializers.IntegerField()


class WorstSerializer(serializers.Serializer):
    faults = WorstFaultSerializer(many=True, help_text="lowest recall first")
    events = WorstEventSerializer(many=True, help_text="most false HIGH/CRITICAL first")
    rules = WorstRuleSerializer(many=True, help_text="most false HIGH/CRITICAL first")


class LabelRuleSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="source:model_id")
    alerts = serializers.IntegerField()
    false_positive = serializers.IntegerField()
    false_positive_share = serializers.FloatField(allow_null=True)
    resolved_with_maintenance = serializers.IntegerField()


class LabelMeasuresSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    high_critical_alerts = serializers.IntegerField()
    false_positive = serializers.IntegerField(help_text="marked false positive by operators")
    false_positive_share = serializers.FloatField(allow_null=True, help_text="the D9 figure")
    resolved_with_maintenance = serializers.IntegerField()
    hit_rate = serializers.FloatField(allow_null=True)
    by_rule = LabelRuleSerializer(many=True)


class VerdictSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    failures = serializers.ListField(child=serializers.CharField())


class EvaluationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    purpose = PurposeField()
    status = serializers.CharField(help_text=STATUS_HELP)
    candidate = serializers.CharField()
    seed = serializers.IntegerField()
    devices = serializers.IntegerField()
    targets_met = serializers.IntegerField(allow_null=True)
    targets_measured = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    verdict = VerdictSerializer(
        allow_null=True, help_text="the candidate's stored D11 detection verdict, if any"
    )


class DetectionOverviewSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    latest = EvaluationSerializer(
        allow_null=True, help_text="the newest succeeded scorecard; null: none yet"
    )
    trend = TrendPointSerializer(many=True, help_text="oldest first")
    figure = serializers.DictField(help_text="the trend as a plotly figure: data and layout")
    worst = WorstSerializer()
    labels = LabelMeasuresSerializer(help_text="from real operator labels, last 30 days")
    unfinished = EvaluationBriefSerializer(
        many=True, help_text="scorecards newer than the latest that are running or failed"
    )
    gates = EvaluationBriefSerializer(many=True, help_text="gate replays, newest first")
    command = serializers.CharField(help_text="how to produce a scorecard")
    command_defaults = serializers.DictField(help_text="what that command replays by default")


# ---------------------------------------------------------------- views


def detection_section(now) -> dict:
    """Return the Detection section's data with its trend figure."""
    overview = selectors.detection_overview(now=now)
    return {**overview, "figure": charts.trend_figure(overview["trend"])}


REFUSED = {
    401: OpenApiResponse(ErrorSerializer, description="not signed in"),
    403: OpenApiResponse(ErrorSerializer, description="not an ML engineer or admin"),
}


class DetectionView(APIView):
    # Token first: its WWW-Authenticate header turns "not signed in" into a 401, not a 403.
    authentication_classes = [UserTokenAuthentication, SessionAuthentication]
    permission_classes = [CanSeeMlDashboards]


class DetectionOverviewView(DetectionView):
    @extend_schema(
        operation_id="monitoring_detection",
        responses={200: DetectionOverviewSerializer, **REFUSED},
        description=(
            "Detection (issue 10): the newest succeeded scorecard replay with its targets, "
            "fault, healthy-device and harmless-event tables; the headline figures of the "
            "last 20 scorecards (and a plotly figure of them); the fault types with the "
            "lowest recall and the events and rules with the most false HIGH/CRITICAL "
            "alerts; the same measures from real operator labels over 30 days; gate replays."
        ),
    )
    def get(self, request):
        return Response(DetectionOverviewSerializer(detection_section(timezone.now())).data)


class DetectionEvaluationView(DetectionView):
    @extend_schema(
        operation_id="monitoring_detection_evaluation",
        responses={
            200: EvaluationDetailSerializer,
            404: OpenApiResponse(ErrorSerializer, description="no such evaluation"),
            **REFUSED,
        },
        description=(
            "One detection evaluation, whatever its purpose or status: its replay "
            "configuration, model versions and rule thresholds, and its full scorecard."
        ),
    )
    def get(self, request, pk: int):
        evaluation = get_object_or_404(DetectionEvaluation, pk=pk)
        return Response(EvaluationDetailSerializer(selectors.evaluation_full(evaluation)).data)
