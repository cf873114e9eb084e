"""Telling people about monitor alerts, by the ladder of domain §3.7.

LOW is logged only; MEDIUM goes to the team channel (the Slack-compatible webhook,
FLEETMON_ALERT_WEBHOOK_URL); HIGH and CRITICAL also page by e-mail: pipeline and data
problems the on-call data engineers (NotificationPreference.on_call), model and SLA problems
the ML engineers. An alert is told again only when its severity rises.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from alerts.models import SEVERITY_RANK, NotificationPreference
from alerts.notifications.channels import post_webhook, send_email
from alerts.notifications.messages import Message
from monitoring.models import MonitorAlert, MonitorLayer
from monitoring.retraining.notify import ml_engineer_emails

logger = logging.getLogger(__name__)

PAGED_LAYERS = {
    MonitorLayer.INFRASTRUCTURE: "on_call",
    MonitorLayer.DATA: "on_call",
    MonitorLayer.MODEL: "ml_engineers",
    MonitorLayer.SLA: "ml_engineers",
}


def on_call_emails() -> list[str]:
    preferences = NotificationPreference.objects.filter(on_call=True, user__is_active=True)
    return sorted(e for e in preferences.values_list("user__email", flat=True) if e)


def recipients(alert: MonitorAlert) -> tuple[list[str], bool]:
    """(e-mail addresses to page, whether the team channel hears of it)."""
    rank = SEVERITY_RANK[alert.severity]
    if rank < SEVERITY_RANK["MEDIUM"]:
        return [], False
    if rank < SEVERITY_RANK["HIGH"]:
        return [], True
    who = PAGED_LAYERS[MonitorLayer(alert.layer)]
    return (on_call_emails() if who == "on_call" else ml_engineer_emails()), True


def compose(alert: MonitorAlert) -> Message:
    url = f"{settings.SITE_ROOT.rstrip('/')}/monitoring/ops/"
    runbook = f"{settings.SITE_ROOT.rstrip('/')}/runbooks/{alert.runbook}/" if alert.runbook else ""
    text = "\n".join(
        [
            alert.title,
            "",
            f"Severity: {alert.severity} ({alert.layer} monitor {alert.monitor})",
            f"About: {alert.subject}",
            f"Since: {alert.first_seen_at:%Y-%m-%d %H:%M} UTC",
            "",
            alert.description,
            "",
            f"Runbook: {runbook or 'none'}",
            f"Dashboard: {url}",
        ]
    )
    return Message(
        subject=f"[FleetMon {alert.severity} {alert.layer}] {alert.title}",
        text=text,
        payload={
            "text": f"[{alert.severity}] {alert.title} - {runbook or url}",
            "monitor": alert.monitor,
            "layer": alert.layer,
            "subject": alert.subject,
            "severity": alert.severity,
            "evidence": alert.evidence,
            "runbook": runbook,
        },
    )


def monitor_notify(alert_id: int) -> dict[str, int]:
    """Tell whoever the alert's severity and layer call for, once per severity step."""
    with transaction.atomic():
        alert = MonitorAlert.objects.select_for_update().get(pk=alert_id)
        told = SEVERITY_RANK.get(alert.notified_severity, 0)
        if SEVERITY_RANK[alert.severity] <= told:
            return {"emails": 0, "webhooks": 0}
        alert.notified_severity = alert.severity
        alert.save(update_fields=["notified_severity"])
    emails, team = recipients(alert)
    message = compose(alert)
    sent = {"emails": 0, "webhooks": 0}
    team_url = getattr(settings, "FLEETMON_ALERT_WEBHOOK_URL", "")
    for address in emails:
        sent["emails"] += _attempt(send_email, address, message)
    if team and team_url:
        sent["webhooks"] += _attempt(post_webhook, team_url, message)
    if not emails and not (team and team_url):
        logger.info("monitor alert %s (%s): logged only", alert.pk, alert.severity)
    return sent


def _attempt(send, target: str, message: Message) -> int:
    """One try; a failed page is logged, and the open alert stays on the dashboards."""
    try:
        send(target, message)
        return 1
    except Exception:  # noqa: BLE001 - one recipient's failure must not stop the others
        logger.exception("monitor notification to %s failed", target)
        return 0
