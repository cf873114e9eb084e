"""Telling the ML engineers: an e-mail to each of them, and a model-layer monitor alert
(with its runbook) on the ops and ML dashboards."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection, send_mail

from alerts.models import Severity
from fleetmon.accounts.models import Role
from monitoring.models import MonitorLayer, RetrainingTrigger
from monitoring.monitors import monitor_clear, monitor_raise

logger = logging.getLogger(__name__)

RUNBOOK = "retraining"
# The §5.6 runbook that answers each trigger; the retraining runbook covers the rest.
TRIGGER_RUNBOOKS = {
    "anomaly_rate_drift": "anomaly-rate-spike",
    "agreement_decline": "model-divergence",
}
SPIKE_RATE = 0.15  # runbook 2: "~5 % → > 15 %" is a spike, worth more than a Slack line


def ml_engineer_emails() -> list[str]:
    users = (
        get_user_model()
        .objects.filter(is_active=True, profile__role=Role.ML_ENGINEER)
        .exclude(email="")
    )
    return sorted(users.values_list("email", flat=True))


def email_ml(*, subject: str, body: str) -> int:
    """Send one e-mail to every ML engineer; a mail failure is logged, never raised, so the
    loop's state stays right (the monitor alert still says it)."""
    recipients = ml_engineer_emails()
    if not recipients:
        logger.warning("no ML engineer with an e-mail address to tell: %s", subject)
        return 0
    sender = getattr(settings, "FLEETMON_ALERT_EMAIL_FROM", "") or settings.DEFAULT_FROM_EMAIL
    try:
        timeout = float(getattr(settings, "FLEETMON_NOTIFY_TIMEOUT_SECONDS", 5))
        return send_mail(
            f"[FleetMon] {subject}",
            body,
            sender,
            recipients,
            connection=get_connection(timeout=timeout),
        )
    except Exception:  # noqa: BLE001 - SMTP trouble must not undo the loop's decision
        logger.exception("e-mail to the ML engineers failed: %s", subject)
        return 0


def runbook_for(trigger_kind: str) -> str:
    return TRIGGER_RUNBOOKS.get(trigger_kind, RUNBOOK)


def _where(trigger: RetrainingTrigger, runbook: str) -> str:
    return f"Trigger #{trigger.pk} on /monitoring/retraining/; runbook /runbooks/{runbook}/"


def trigger_alert_ml(trigger: RetrainingTrigger) -> None:
    """An alert-ML trigger fired: raise its monitor and e-mail the ML engineers."""
    runbook = runbook_for(trigger.trigger_kind)
    mean_rate = _mean_rate(trigger.evidence)
    spike = mean_rate is not None and mean_rate > SPIKE_RATE
    severity = Severity.HIGH if spike else Severity.MEDIUM
    monitor_raise(
        monitor=f"retrain_trigger_{trigger.trigger_kind}",
        layer=MonitorLayer.MODEL,
        subject=trigger.model_kind,
        severity=severity,
        title=f"Retraining trigger {trigger.trigger_kind} ({trigger.model_kind})",
        description=f"{trigger.summary}. A person decides: retrain, fix a threshold, or not.",
        evidence={"trigger_id": trigger.pk, **trigger.evidence},
        runbook=runbook,
    )
    email_ml(
        subject=f"{trigger.trigger_kind} on {trigger.model_kind}: your decision",
        body=f"{trigger.summary}.\n\n{_where(trigger, runbook)}\n",
    )


def trigger_cleared(trigger: RetrainingTrigger) -> None:
    monitor_clear(monitor=f"retrain_trigger_{trigger.trigger_kind}", subject=trigger.model_kind)


def _mean_rate(evidence: dict) -> float | None:
    runs = evidence.get("runs") or []
    rates = [r["rate"] for r in runs if "rate" in r]
    return sum(rates) / len(rates) if rates else None


def retrain_failed(trigger: RetrainingTrigger, *, monitor: str, title: str) -> None:
    """A retrain ended without promotion (rejected candidate, failed training): say why."""
    reasons = "\n".join(f"- {r}" for r in trigger.outcome_reasons)
    monitor_raise(
        monitor=monitor,
        layer=MonitorLayer.MODEL,
        subject=trigger.model_kind,
        severity=Severity.MEDIUM,
        title=title,
        description=f"Trigger #{trigger.pk} ({trigger.trigger_kind}): {trigger.summary}.\n"
        + reasons,
        evidence={
            "trigger_id": trigger.pk,
            "candidate": trigger.candidate_id,
            "reasons": trigger.outcome_reasons,
        },
        runbook=RUNBOOK,
    )
    email_ml(
        subject=title,
        body=(
            f"Retraining trigger #{trigger.pk} ({trigger.trigger_kind}, {trigger.model_kind}):"
            f" {trigger.summary}.\n\nWhy it was not promoted:\n{reasons}\n\n"
            f"Production is unchanged. Review it by hand.\n{_where(trigger, RUNBOOK)}\n"
        ),
    )


def retrain_succeeded(trigger: RetrainingTrigger) -> None:
    for monitor in ("retrain_rejected", "retrain_failed"):
        monitor_clear(monitor=monitor, subject=trigger.model_kind)
