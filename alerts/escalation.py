"""Auto-escalation (domain §7.3): an alert nobody acknowledged by its SLA deadline is
marked breached and, if still at L1, escalated to L2.

Safe to run often and in parallel: rows are claimed with SKIP LOCKED (a row an operator is
acting on right now is left for the next run), and an alert once handled no longer matches.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import AlertEvent, AlertStatus, DeviceAlert

logger = logging.getLogger(__name__)

ACTOR = "system"
ESCALATED_TO = "regional engineer on call"
REASON = "SLA deadline passed unacknowledged"
BATCH = 500
MAX_BATCHES = 20  # at most 10,000 alerts a run; the next run (a minute later) takes the rest


def due_alerts(now: datetime):
    """Open (never acknowledged) alerts past their deadline, not yet handled. Suppressed
    repeats are left out: the active alert they point to carries the escalation."""
    return DeviceAlert.objects.filter(
        Q(sla_breached=False) | Q(escalation_level="L1"),
        status=AlertStatus.OPEN,
        suppressed=False,
        sla_deadline__lt=now,
    )


def auto_escalate(*, now: datetime | None = None) -> dict[str, int]:
    """Mark due alerts breached; escalate those at L1 to L2. Returns counts."""
    now = now or timezone.now()
    escalated = breached = 0
    for _ in range(MAX_BATCHES):
        with transaction.atomic():
            batch = list(
                due_alerts(now).select_for_update(skip_locked=True).order_by("sla_deadline")[:BATCH]
            )
            for alert in batch:
                if alert.escalation_level == "L1":
                    _escalate(alert, now)
                    escalated += 1
                else:
                    _breach(alert, now)
                breached += 1
        if len(batch) < BATCH:
            break
    if breached:
        logger.info("auto-escalation: %d breached, %d escalated to L2", breached, escalated)
    return {"breached": breached, "escalated": escalated}


def _escalate(alert: DeviceAlert, now: datetime) -> None:
    alert.sla_breached = True
    alert.escalation_level, alert.escalated_at, alert.escalated_to = "L2", now, ESCALATED_TO
    alert.save(update_fields=["sla_breached", "escalation_level", "escalated_at", "escalated_to"])
    AlertEvent.objects.create(
        alert=alert,
        kind="escalated",
        actor=ACTOR,
        note=REASON,
        at=now,
        details={
            "from": "L1",
            "to": "L2",
            "escalated_to": ESCALATED_TO,
            "sla_deadline": alert.sla_deadline.isoformat(),
            "automatic": True,
        },
    )


def _breach(alert: DeviceAlert, now: datetime) -> None:
    """Already escalated by hand, still unacknowledged: record the breach only."""
    alert.sla_breached = True
    alert.save(update_fields=["sla_breached"])
    AlertEvent.objects.create(
        alert=alert,
        kind="sla_breached",
        actor=ACTOR,
        note=REASON,
        at=now,
        details={"sla_deadline": alert.sla_deadline.isoformat()},
    )
