"""Raise and clear monitor alerts; every monitor of every layer goes through here.

A monitor calls `monitor_raise` each time its check fails and `monitor_clear` when it
passes again, so the open alert tracks the problem's life: one row per episode.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.models import SEVERITY_RANK
from monitoring.models import MonitorAlert, MonitorLayer, MonitorStatus

# Domain §3.7: data-quality and pipeline problems go to the data platform, model problems
# to the ML engineers; equipment alerts (not here) go to the site teams.
ROUTES = {
    MonitorLayer.INFRASTRUCTURE: "#data-platform-alerts, on-call data engineer",
    MonitorLayer.DATA: "#data-platform-alerts, on-call data engineer",
    MonitorLayer.MODEL: "ML engineers",
    MonitorLayer.SLA: "ML engineers, operations manager",
}


def monitor_raise(
    *,
    monitor: str,
    layer: str,
    subject: str,
    severity: str,
    title: str,
    description: str = "",
    evidence: dict | None = None,
    runbook: str = "",
    now: datetime | None = None,
) -> tuple[MonitorAlert, bool]:
    """Open (or refresh) the alert of `monitor` about `subject`; returns (alert, created)."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            MonitorAlert.objects.select_for_update()
            .filter(monitor=monitor, subject=subject, status=MonitorStatus.OPEN)
            .first()
        )
        if alert is None:
            alert = MonitorAlert.objects.create(
                monitor=monitor,
                layer=layer,
                subject=subject,
                severity=severity,
                title=title,
                description=description,
                evidence=evidence or {},
                runbook=runbook,
                routed_to=ROUTES[MonitorLayer(layer)],
                first_seen_at=now,
                last_seen_at=now,
            )
            _notify_after_commit(alert.pk)
            return alert, True
        if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
            alert.severity = severity
            _notify_after_commit(alert.pk)
        alert.title, alert.description = title, description or alert.description
        alert.evidence = evidence or alert.evidence
        alert.last_seen_at = now
        alert.occurrences += 1
        alert.save()
        return alert, False


def _notify_after_commit(alert_id: int) -> None:
    from monitoring.tasks import monitor_notify_task

    # robust: a broker outage must not undo the monitor's record.
    transaction.on_commit(lambda: monitor_notify_task.delay(alert_id), robust=True)


def monitor_clear(*, monitor: str, subject: str, now: datetime | None = None) -> bool:
    """Resolve the open alert of `monitor` about `subject`, if any; True when one was."""
    now = now or timezone.now()
    return bool(
        MonitorAlert.objects.filter(
            monitor=monitor, subject=subject, status=MonitorStatus.OPEN
        ).update(status=MonitorStatus.RESOLVED, resolved_at=now)
    )
