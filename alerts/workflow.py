"""The operator workflow (domain §7.3): every action on an alert, its legal transitions and
its audit event.

    open --acknowledge--> acknowledged --schedule_maintenance--> in_progress
      |                        |                                    |
      +------------------------+---- resolve / mark_false_positive -+--> resolved / false_positive

schedule_maintenance is also allowed straight from open; escalate raises the level (L1 <
L2 < L3) of any active alert and keeps its status. Resolved and false-positive alerts are
closed: any action on them is refused with the reason. Each action runs in one
transaction with the alert row locked, so two operators cannot both move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.models import (
    ACTIVE_STATUSES,
    AlertEvent,
    AlertStatus,
    DeviceAlert,
    LabelEvent,
    MaintenanceEvent,
)

LEVELS = ("L1", "L2", "L3")
# Operator feedback is an opinion about a model's output, not a field inspection.
OPERATOR_LABEL_CONFIDENCE = 0.7

# Action -> the statuses it may start from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "acknowledge": (AlertStatus.OPEN,),
    "schedule_maintenance": (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    "mark_false_positive": ACTIVE_STATUSES,
    "resolve": ACTIVE_STATUSES,
    "escalate": ACTIVE_STATUSES,
}


class IllegalTransition(ValueError):
    """The action is not allowed from the alert's status; the message says why."""


@dataclass(frozen=True)
class Outcome:
    alert: DeviceAlert
    event: AlertEvent
    maintenance: MaintenanceEvent | None = None
    label: LabelEvent | None = None


def _locked(alert_id, action: str) -> DeviceAlert:
    alert = DeviceAlert.objects.select_for_update().get(pk=alert_id)
    allowed = ALLOWED_FROM[action]
    if alert.status not in allowed:
        readable = " or ".join(s.replace("_", " ") for s in allowed)
        raise IllegalTransition(
            f"cannot {action.replace('_', ' ')} an alert that is "
            f"{alert.status.replace('_', ' ')}; only {readable} alerts"
        )
    return alert


def _required(value: str, what: str) -> str:
    if not value or not value.strip():
        raise IllegalTransition(f"{what} is required")
    return value.strip()


def _record(alert, kind, actor, note, at, fields, details=None) -> AlertEvent:
    alert.save(update_fields=fields)
    from alerts.services import refresh_open_severity

    transaction.on_commit(lambda: refresh_open_severity({alert.device_id}))
    return AlertEvent.objects.create(
        alert=alert, kind=kind, actor=actor, note=note, at=at, details=details or {}
    )


def acknowledge(*, alert_id, actor: str, note: str = "", now: datetime | None = None) -> Outcome:
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert_id, "acknowledge")
        alert.status = AlertStatus.ACKNOWLEDGED
        event = _record(alert, "acknowledged", actor, note, now, ["status"])
    return Outcome(alert, event)


def schedule_maintenance(
    *,
    alert_id,
    actor: str,
    event_type: str,
    scheduled_date: datetime,
    priority: str = MaintenanceEvent.Priority.MEDIUM,
    technician_id: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Outcome:
    """Create a MaintenanceEvent for the alert's device; the alert goes in_progress."""
    now = now or timezone.now()
    if event_type not in MaintenanceEvent.EventType.values:
        raise IllegalTransition(
            f"event_type must be one of {', '.join(MaintenanceEvent.EventType.values)}"
        )
    if priority not in MaintenanceEvent.Priority.values:
        raise IllegalTransition(
            f"priority must be one of {', '.join(MaintenanceEvent.Priority.values)}"
        )
    with transaction.atomic():
        alert = _locked(alert_id, "schedule_maintenance")
        maintenance = MaintenanceEvent.objects.create(
            device_id=alert.device_id,
            event_type=event_type,
            priority=priority,
            scheduled_date=scheduled_date,
            technician_id=technician_id,
            work_description=note or alert.title,
            triggered_by_alert=alert,
            pre_maintenance_anomaly_score=alert.device.latest_anomaly_score,
            created_by=actor,
            created_at=now,
        )
        alert.status = AlertStatus.IN_PROGRESS
        alert.ontology_action_id = str(maintenance.event_id)
        event = _record(
            alert,
            "maintenance_scheduled",
            actor,
            note,
            now,
            ["status", "ontology_action_id"],
            {"maintenance_event_id": str(maintenance.event_id), "event_type": event_type},
        )
    return Outcome(alert, event, maintenance=maintenance)


def mark_false_positive(
    *, alert_id, actor: str, reason: str, now: datetime | None = None
) -> Outcome:
    """Close the alert as a false positive and write the C7 label the retraining reads."""
    now = now or timezone.now()
    reason = _required(reason, "a reason")
    with transaction.atomic():
        alert = _locked(alert_id, "mark_false_positive")
        alert.status = AlertStatus.FALSE_POSITIVE
        alert.resolved_at = now
        label = LabelEvent.objects.create(
            device_id=alert.device_id,
            event_timestamp=alert.first_detected_at,
            label_type=LabelEvent.LabelType.FALSE_POSITIVE,
            label_source=LabelEvent.LabelSource.OPERATOR_FEEDBACK,
            label_confidence=OPERATOR_LABEL_CONFIDENCE,
            labeled_at=now,
            labeled_by=actor,
            alert=alert,
            notes=reason,
        )
        event = _record(
            alert,
            "false_positive",
            actor,
            reason,
            now,
            ["status", "resolved_at"],
            {"label_event_id": label.pk},
        )
    return Outcome(alert, event, label=label)


def resolve(
    *,
    alert_id,
    actor: str,
    note: str,
    maintenance_event_id=None,
    now: datetime | None = None,
) -> Outcome:
    """Close the alert; a linked maintenance event is completed with the device's score."""
    now = now or timezone.now()
    note = _required(note, "resolution notes")
    with transaction.atomic():
        alert = _locked(alert_id, "resolve")
        maintenance = None
        if maintenance_event_id:
            maintenance = MaintenanceEvent.objects.filter(
                pk=maintenance_event_id, device_id=alert.device_id
            ).first()
            if maintenance is None:
                raise IllegalTransition(
                    f"maintenance event {maintenance_event_id} is not one of this device's"
                )
            maintenance.completed_date = maintenance.completed_date or now
            maintenance.post_maintenance_anomaly_score = alert.device.latest_anomaly_score
            maintenance.save(update_fields=["completed_date", "post_maintenance_anomaly_score"])
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        details = {"maintenance_event_id": str(maintenance.pk)} if maintenance else {}
        event = _record(alert, "resolved", actor, note, now, ["status", "resolved_at"], details)
    return Outcome(alert, event, maintenance=maintenance)


def escalate(
    *,
    alert_id,
    actor: str,
    level: str,
    to: str,
    reason: str,
    now: datetime | None = None,
) -> Outcome:
    """Raise the escalation level (never lower it); the status is unchanged."""
    now = now or timezone.now()
    reason = _required(reason, "a reason")
    to = _required(to, "whom to escalate to")
    if level not in LEVELS[1:]:
        raise IllegalTransition(f"level must be L2 or L3, not {level!r}")
    with transaction.atomic():
        alert = _locked(alert_id, "escalate")
        if LEVELS.index(level) <= LEVELS.index(alert.escalation_level):
            raise IllegalTransition(
                f"the alert is already at {alert.escalation_level}; escalate to a higher level"
            )
        previous = alert.escalation_level
        alert.escalation_level, alert.escalated_at, alert.escalated_to = level, now, to
        event = _record(
            alert,
            "escalated",
            actor,
            reason,
            now,
            ["escalation_level", "escalated_at", "escalated_to"],
            {"from": previous, "to": level, "escalated_to": to},
        )
    return Outcome(alert, event)
