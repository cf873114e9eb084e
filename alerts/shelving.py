"""Shelving (ISA-18.2): an operator sets an active alert aside for a while, with a reason.

A shelved alert keeps its status but leaves the active queue (it shows in the "Shelved"
view with its expiry) and is not notified. It comes back by itself at `shelved_until`:
at once in the queue, which compares with the clock, and for good through the
every-minute sweep (`shelve_expire`), which records an "unshelved" event and, if the alert
is still active, notifies again. An operator may unshelve it by hand before that.

How long: 1 h, 4 h, until the end of the shift, or until a chosen time; never more than
24 h ahead. The end of the shift is the next of FLEETMON_SHIFT_BOUNDARIES (local times,
default 06:00, 14:00, 22:00) in the site's time zone, which is its region's
(FLEETMON_REGION_TIMEZONES).

Every shelve and unshelve is an AlertEvent (who, when, why, until when), like every other
action of alerts.workflow, and runs in one transaction with the alert row locked.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import ACTIVE_STATUSES, AlertEvent, DeviceAlert
from alerts.workflow import IllegalTransition, Outcome

logger = logging.getLogger(__name__)

MAX_SHELVE = timedelta(hours=24)
FIXED = {"1h": timedelta(hours=1), "4h": timedelta(hours=4)}
END_OF_SHIFT, UNTIL = "end_of_shift", "until"
DURATIONS = (*FIXED, END_OF_SHIFT, UNTIL)
SWEEP_BATCH = 500


class InvalidShelve(ValueError):
    """The shelving request itself is wrong; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def shift_boundaries() -> list[time]:
    return sorted(
        time.fromisoformat(t.strip()) for t in settings.FLEETMON_SHIFT_BOUNDARIES.split(",")
    )


def site_timezone(region: str) -> ZoneInfo:
    return ZoneInfo(settings.FLEETMON_REGION_TIMEZONES.get(region, "UTC"))


def shift_end(*, region: str, now: datetime) -> datetime:
    """The next shift boundary after `now`, in the region's local time, as UTC."""
    zone = site_timezone(region)
    local = now.astimezone(zone)
    for days in (0, 1):
        day = local.date() + timedelta(days=days)
        for boundary in shift_boundaries():
            candidate = datetime.combine(day, boundary, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(now.tzinfo)
    raise AssertionError("FLEETMON_SHIFT_BOUNDARIES is empty")  # pragma: no cover


def shelve_expiry(
    *, duration: str, region: str, now: datetime, until: datetime | None = None
) -> datetime:
    """When a shelf asked for as `duration` (and `until`) ends; InvalidShelve if it can't."""
    if duration in FIXED:
        return now + FIXED[duration]
    if duration == END_OF_SHIFT:
        return min(shift_end(region=region, now=now), now + MAX_SHELVE)
    if duration != UNTIL:
        raise InvalidShelve("duration", f"must be one of {', '.join(DURATIONS)}")
    if until is None:
        raise InvalidShelve("until", "a time is required when duration is 'until'")
    if until.tzinfo is None:
        raise InvalidShelve("until", "give a time zone (e.g. 2026-01-01T14:00:00Z)")
    if until <= now:
        raise InvalidShelve("until", "must be in the future")
    if until > now + MAX_SHELVE:
        raise InvalidShelve("until", "at most 24 hours ahead")
    return until


def is_shelved(alert: DeviceAlert, now: datetime | None = None) -> bool:
    return alert.shelved_until is not None and alert.shelved_until > (now or timezone.now())


def _locked_active(alert_id, action: str) -> DeviceAlert:
    alert = DeviceAlert.objects.select_for_update().get(pk=alert_id)
    if alert.status not in ACTIVE_STATUSES:
        raise IllegalTransition(
            f"cannot {action} an alert that is {alert.status.replace('_', ' ')}; "
            "only open, acknowledged or in progress alerts"
        )
    return alert


def alert_shelve(
    *,
    alert_id,
    actor: str,
    duration: str,
    reason: str,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Shelve an active alert (again: a new expiry replaces the old one)."""
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidShelve("reason", "a reason is required to shelve")
    with transaction.atomic():
        alert = _locked_active(alert_id, "shelve")
        expiry = shelve_expiry(duration=duration, region=alert.region, now=now, until=until)
        previous = alert.shelved_until if is_shelved(alert, now) else None
        alert.shelved_until = expiry
        alert.save(update_fields=["shelved_until"])
        event = AlertEvent.objects.create(
            alert=alert,
            kind="shelved",
            actor=actor,
            note=reason.strip(),
            at=now,
            details={
                "duration": duration,
                "until": expiry.isoformat(),
                "previous_until": previous.isoformat() if previous else None,
            },
        )
    return Outcome(alert, event)


def alert_unshelve(*, alert_id, actor: str, note: str = "", now: datetime | None = None) -> Outcome:
    """Bring a shelved alert back to the queue before its time; it is not notified again
    (whoever unshelves it has seen it)."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked_active(alert_id, "unshelve")
        if not is_shelved(alert, now):
            raise IllegalTransition("the alert is not shelved")
        shelved_until = alert.shelved_until
        alert.shelved_until = None
        alert.save(update_fields=["shelved_until"])
        event = AlertEvent.objects.create(
            alert=alert,
            kind="unshelved",
            actor=actor,
            note=note.strip(),
            at=now,
            details={"shelved_until": shelved_until.isoformat(), "expired": False},
        )
    return Outcome(alert, event)


def shelve_expire(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Return every alert whose shelf has run out; notify again those still active.

    Safe to rerun and to run twice at once: each alert is claimed with a conditional
    update, so only one sweep records its return.
    """
    from alerts.notifications.signals import queue_routing

    now = now or timezone.now()
    due = list(
        DeviceAlert.objects.filter(shelved_until__lte=now)
        .order_by("shelved_until")
        .values_list("pk", "shelved_until")[:limit]
    )
    returned = 0
    for alert_id, shelved_until in due:
        with transaction.atomic():
            claimed = DeviceAlert.objects.filter(pk=alert_id, shelved_until=shelved_until).update(
                shelved_until=None
            )
            if not claimed:
                continue  # another sweep, or an operator, got there first
            alert = DeviceAlert.objects.get(pk=alert_id)
            if alert.status not in ACTIVE_STATUSES:
                continue  # closed while shelved: nothing comes back
            event = AlertEvent.objects.create(
                alert=alert,
                kind="unshelved",
                actor="system",
                note="shelf expired",
                at=now,
                details={"shelved_until": shelved_until.isoformat(), "expired": True},
            )
            # A new round of notifications: those sent before the shelf are not repeats.
            queue_routing(alert.pk, round=event.pk)
            returned += 1
    if due:
        logger.info("shelves expired: %d due, %d returned to the queue", len(due), returned)
    return returned
