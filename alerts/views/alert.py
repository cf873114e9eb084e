"""The alert page: everything about one alert, and the operator's actions on it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.shortcuts import render
from django.utils import timezone

from alerts.api.alert_detail import AlertDetailSerializer, alert_detail, scoped_alert
from alerts.models import MaintenanceEvent
from alerts.runbook_map import runbook_html
from alerts.workflow import LEVELS
from fleetmon.accounts.permissions import role_required

# Timeline words; static/js/alert.js has the same table for events added without a reload.
EVENT_LABELS = {
    "created": "Created",
    "sustained": "Sustained",
    "acknowledged": "Acknowledged",
    "maintenance_scheduled": "Maintenance scheduled",
    "false_positive": "Marked false positive",
    "resolved": "Resolved",
    "escalated": "Escalated",
    "sla_breached": "SLA breached",
    "shelved": "Shelved",
    "unshelved": "Back from the shelf",
    "suppressed_by_window": "Suppressed by a maintenance window",
}
CHART_BEFORE = timedelta(hours=12)
CHART_AFTER = timedelta(hours=6)


def sensor_history_url(alert, now) -> str:
    """The device's sensor charts from 12 h before the first detection to 6 h after (or
    now, if sooner), marked at the detection."""
    start = alert.first_detected_at - CHART_BEFORE
    end = min(alert.first_detected_at + CHART_AFTER, now)
    if end <= start:
        end = alert.first_detected_at + CHART_AFTER
    query = urlencode(
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "mark": alert.first_detected_at.isoformat(),
        }
    )
    return f"/api/v1/devices/{alert.device_id}/history/?{query}"


@role_required()
def alert_page(request, alert_id):
    alert = alert_detail(scoped_alert(request.profile, alert_id), request.profile)
    for event in alert.timeline:
        event.label = EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    top = max((abs(c["score"]) for c in alert.contributors), default=0) or 1
    contributors = [{**c, "width": round(100 * abs(c["score"]) / top)} for c in alert.contributors]
    context = {
        "alert": alert,
        "detail": AlertDetailSerializer(alert).data,
        "contributors": contributors,
        "can_triage": request.profile.can_triage,
        "sensor_history_url": sensor_history_url(alert, timezone.now()),
        "runbook_html": runbook_html(alert.runbook.slug),
        "event_types": MaintenanceEvent.EventType.choices,
        "priorities": MaintenanceEvent.Priority.choices,
        "levels": LEVELS[1:],
        "now": timezone.now(),
    }
    return render(request, "alerts/alert.html", context)
