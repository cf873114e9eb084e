"""What a notification says: an e-mail (subject and text) and a Slack-compatible JSON body.

Composed at send time from the alert as it is then, so a retried delivery carries the
current status and escalation level.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

REASON_TEXT = {
    "site_team": "the alert is in your regions or sites",
    "on_call": "you are on call",
    "escalated_to": "the alert was escalated to you",
    "team_channel": "this is the team alert channel",
}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict


def alert_url(alert) -> str:
    """The alert page, absolute (SITE_ROOT), for links in e-mails and chat."""
    return f"{settings.SITE_ROOT.rstrip('/')}/alerts/{alert.alert_id}/"


def compose(alert, *, reason: str) -> Message:
    url = alert_url(alert)
    level = alert.escalation_level
    escalated = f" · escalated to {level}" if level in ("L2", "L3") else ""
    subject = f"[FleetMon {alert.severity}{escalated}] {alert.title}"
    why = "; ".join(REASON_TEXT.get(part, part) for part in reason.split("+"))
    lines = [
        alert.title,
        "",
        f"Severity: {alert.severity}",
        f"Status: {alert.status.replace('_', ' ')}",
        f"Device: {alert.device_id}",
        f"Site: {alert.site_id} ({alert.region})",
        f"Raised: {alert.alert_created_at:%Y-%m-%d %H:%M} UTC",
        f"Acknowledge by: {alert.sla_deadline:%Y-%m-%d %H:%M} UTC",
    ]
    if escalated:
        lines.append(f"Escalated: {level} to {alert.escalated_to}")
    lines += [
        "",
        alert.description,
        "",
        f"Open the alert: {url}",
        "",
        f"You receive this because {why}.",
    ]
    text = "\n".join(lines)
    payload = {
        # Slack (and most chat webhooks) show `text`; the other fields are for machines.
        "text": f"[{alert.severity}{escalated}] {alert.title} at {alert.site_id} - {url}",
        "alert_id": str(alert.alert_id),
        "severity": alert.severity,
        "status": alert.status,
        "alert_type": alert.alert_type,
        "device_id": alert.device_id,
        "site_id": alert.site_id,
        "region": alert.region,
        "title": alert.title,
        "escalation_level": level,
        "escalated_to": alert.escalated_to,
        "created_at": alert.alert_created_at.isoformat(),
        "sla_deadline": alert.sla_deadline.isoformat(),
        "url": url,
        "reason": reason,
    }
    return Message(subject=subject, text=text, payload=payload)
