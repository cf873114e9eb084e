"""One alert, everything an operator needs to decide on it: GET /api/v1/alerts/<id>/ and its
score history /api/v1/alerts/<id>/scores/. Out-of-scope alerts answer 404."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import (
    AlertEvent,
    DeviceAlert,
    LabelEvent,
    MaintenanceEvent,
)
from alerts.runbook_map import runbook_for
from alerts.score_chart import device_score_history, score_series
from alerts.text import feature_words
from alerts.workflow import ALLOWED_FROM, LEVELS
from fleetmon.accounts.models import Profile
from fleetmon.accounts.permissions import CanTriageOrReadOnly
from fleetmon.accounts.scopes import scoped_alerts
from fleetmon.registry.charts import score_figure
from fleetmon.registry.models import Device

RELATED_SITE_WINDOW = timedelta(hours=2)
RELATED_CONTRIBUTOR_WINDOW = timedelta(days=7)
RELATED_LIMIT = 20
SCORE_WINDOW = timedelta(hours=24)
ACTIONS = tuple(ALLOWED_FROM)


# ---------------------------------------------------------------- reads


def scoped_alert(profile: Profile, alert_id) -> DeviceAlert:
    """The alert if the user may see it, else 404 (never 403: its existence stays hidden)."""
    return get_object_or_404(scoped_alerts(profile).select_related("site", "device"), pk=alert_id)


def related_alerts(alert: DeviceAlert, profile: Profile) -> list[dict]:
    """Alerts at the same site within ±2 h of this one's first detection, or on the same
    device with the same dominant contributor within ±7 days; in scope, unsuppressed
    (suppressed ones are repeats of an alert already listed), newest first."""
    at = alert.first_detected_at
    same_site = Q(
        site_id=alert.site_id,
        first_detected_at__gte=at - RELATED_SITE_WINDOW,
        first_detected_at__lte=at + RELATED_SITE_WINDOW,
    )
    query = same_site
    dominant = alert.top_contributors[0] if alert.top_contributors else None
    if dominant:
        query |= Q(
            device_id=alert.device_id,
            top_contributors__0=dominant,
            first_detected_at__gte=at - RELATED_CONTRIBUTOR_WINDOW,
            first_detected_at__lte=at + RELATED_CONTRIBUTOR_WINDOW,
        )
    found = (
        scoped_alerts(profile)
        .filter(query, suppressed=False)
        .exclude(pk=alert.pk)
        .order_by("-first_detected_at")[:RELATED_LIMIT]
    )
    related = []
    for other in found:
        reasons = []
        if other.site_id == alert.site_id and abs(other.first_detected_at - at) <= (
            RELATED_SITE_WINDOW
        ):
            reasons.append("same site, within 2 h")
        if (
            dominant
            and other.device_id == alert.device_id
            and other.top_contributors[:1] == [dominant]
        ):
            reasons.append(f"same device and dominant contributor ({dominant})")
        related.append({"alert": other, "relation": "; ".join(reasons)})
    return related


def allowed_actions(alert: DeviceAlert, profile: Profile) -> list[str]:
    """The workflow actions this user may take on the alert now (empty for read-only roles)."""
    if not profile.can_triage:
        return []
    allowed = [a for a in ACTIONS if alert.status in ALLOWED_FROM[a]]
    if alert.escalation_level == LEVELS[-1] and "escalate" in allowed:
        allowed.remove("escalate")
    return allowed


def alert_detail(alert: DeviceAlert, profile: Profile) -> DeviceAlert:
    """Attach what the detail serializer shows beyond the alert's own columns."""
    alert.timeline = list(AlertEvent.objects.filter(alert=alert).order_by("at", "pk"))
    alert.contributors = [
        {"feature": feature, "label": feature_words(feature), "score": score}
        for feature, score in zip(
            alert.top_contributors, alert.contributor_scores or [], strict=False
        )
    ]
    # This alert's maintenance, and the device's other unfinished jobs (resolve may cite one).
    alert.maintenance = list(
        MaintenanceEvent.objects.filter(
            Q(triggered_by_alert=alert) | Q(device_id=alert.device_id, completed_date__isnull=True)
        ).order_by("-scheduled_date")
    )
    alert.label_list = list(LabelEvent.objects.filter(alert=alert).order_by("-labeled_at"))
    alert.related = related_alerts(alert, profile)
    alert.runbook = runbook_for(alert)
    alert.allowed_actions = allowed_actions(alert, profile)
    alert.suppressed_repeats = DeviceAlert.objects.filter(suppressed_by=alert).count()
    return alert


# ---------------------------------------------------------------- serializers


class DeviceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = [
            "device_id",
            "equipment_model",
            "cohort",
            "firmware_version",
            "install_date",
            "health_status",
            "dropout_state",
            "latest_anomaly_score",
            "anomaly_trend",
            "last_reading_at",
        ]


class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["id", "kind", "actor", "note", "at", "details"]


class ContributorSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField(help_text="the sensor in words")
    score = serializers.FloatField()


class MaintenanceEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceEvent
        fields = [
            "event_id",
            "event_type",
            "priority",
            "scheduled_date",
            "completed_date",
            "technician_id",
            "work_description",
            "triggered_by_alert",
            "pre_maintenance_anomaly_score",
            "post_maintenance_anomaly_score",
            "created_by",
            "created_at",
        ]


class LabelEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelEvent
        fields = [
            "id",
            "label_type",
            "label_source",
            "label_confidence",
            "labeled_at",
            "labeled_by",
            "event_timestamp",
            "notes",
        ]


class RelatedAlertSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField(source="alert.alert_id")
    device_id = serializers.CharField(source="alert.device_id")
    site_id = serializers.CharField(source="alert.site_id")
    title = serializers.CharField(source="alert.title")
    severity = serializers.CharField(source="alert.severity")
    status = serializers.CharField(source="alert.status")
    first_detected_at = serializers.DateTimeField(source="alert.first_detected_at")
    relation = serializers.CharField()


class RunbookSerializer(serializers.Serializer):
    slug = serializers.CharField()
    url = serializers.CharField()
    title = serializers.CharField()


class AlertDetailSerializer(serializers.ModelSerializer):
    """The C6 columns, plus what the alert page shows around them."""

    site_name = serializers.CharField(source="site.site_name")
    device = DeviceSummarySerializer()
    events = AlertEventSerializer(source="timeline", many=True)
    contributors = ContributorSerializer(many=True)
    maintenance_events = MaintenanceEventSerializer(source="maintenance", many=True)
    label_events = LabelEventSerializer(source="label_list", many=True)
    related_alerts = RelatedAlertSerializer(source="related", many=True)
    runbook = RunbookSerializer()
    allowed_actions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ACTIONS)),
        help_text="actions you may take now (empty for read-only roles)",
    )
    suppressed_repeats = serializers.IntegerField(
        help_text="later duplicates stored as suppressed and linked to this alert"
    )

    class Meta:
        model = DeviceAlert
        fields = [
            "alert_id",
            "device_id",
            "site_id",
            "site_name",
            "region",
            "alert_type",
            "severity",
            "source",
            "title",
            "description",
            "model_id",
            "models_flagging",
            "anomaly_score",
            "top_contributors",
            "contributor_scores",
            "dedup_key",
            "window_end",
            "first_detected_at",
            "alert_created_at",
            "last_seen_at",
            "suppressed",
            "suppressed_by",
            "ontology_action_id",
            "status",
            "resolved_at",
            "escalation_level",
            "escalated_at",
            "escalated_to",
            "sla_deadline",
            "sla_breached",
            "recheck_until",
            "storm",
            "device",
            "events",
            "contributors",
            "maintenance_events",
            "label_events",
            "related_alerts",
            "runbook",
            "allowed_actions",
            "suppressed_repeats",
            "shelved_until",
            "maintenance_window",
        ]


def detail_response(alert_id, profile: Profile) -> dict:
    alert = scoped_alert(profile, alert_id)
    return AlertDetailSerializer(alert_detail(alert, profile)).data


class ScorePointSerializer(serializers.Serializer):
    window_end = serializers.DateTimeField()
    anomaly_score = serializers.FloatField()
    anomaly_flag = serializers.BooleanField()
    threshold = serializers.FloatField()


class ModelScoresSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    kind = serializers.CharField()
    role = serializers.CharField(help_text="production, canary or shadow")
    points = ScorePointSerializer(many=True)


class AlertScoresSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField()
    device_id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    models = ModelScoresSerializer(many=True)
    figure = serializers.DictField(help_text="a plotly figure of the same data")


# ---------------------------------------------------------------- views


class AlertDetailView(APIView):
    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="alert_detail",
        responses=AlertDetailSerializer,
        description=(
            "One alert in your scope: its C6 columns, site and device, the status timeline, "
            "contributors with scores, maintenance and label events, related alerts (same "
            "site within 2 h, or same device and dominant contributor within 7 days), its "
            "runbook, and the actions you may take now. Out of scope: 404."
        ),
    )
    def get(self, request, alert_id):
        return Response(detail_response(alert_id, request.profile))


class AlertScoresView(APIView):
    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="alert_scores",
        responses=AlertScoresSerializer,
        description=(
            "Every model's scores of the alert's device from 24 h before to 24 h after its "
            "first detection, as points and as a plotly figure."
        ),
    )
    def get(self, request, alert_id):
        alert = scoped_alert(request.profile, alert_id)
        start = alert.first_detected_at - SCORE_WINDOW
        end = alert.first_detected_at + SCORE_WINDOW
        models = device_score_history(device_id=alert.device_id, start=start, end=end)
        body = {
            "alert_id": alert.alert_id,
            "device_id": alert.device_id,
            "start": start,
            "end": end,
            "models": models,
            "figure": score_figure(
                score_series(models), start=start, end=end, mark=alert.first_detected_at
            ),
        }
        return Response(AlertScoresSerializer(body).data)
