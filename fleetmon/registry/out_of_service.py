"""Out of service (ISA-18.2): a device set aside on purpose (removed for repair, a store
refit, decommissioning in progress) until a given time, with a reason.

While out of service a device raises no alert (the streaming worker and score-to-alert skip
it), counts in no fleet figure of the overview, and shows as such on its page and in the
lists. It returns to service by itself at `until`: every check compares with the clock, and
the every-minute sweep closes the period for the record. An operator in scope or an admin
may return it earlier.

Each period is an OutOfServicePeriod row (who took it out, why, until when; who returned it
or "system"), and the device's `out_of_service_until` is the fast check for the hot paths.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from fleetmon.registry.models import Device, OutOfServicePeriod

logger = logging.getLogger(__name__)

MAX_OUT_OF_SERVICE = timedelta(days=365)


class InvalidOutOfService(ValueError):
    """The request itself is wrong; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class OutOfServiceConflict(ValueError):
    """Not possible in the device's present state; the message says why."""


def check_until(until: datetime, now: datetime) -> datetime:
    if until.tzinfo is None:
        raise InvalidOutOfService("until", "give a time zone (e.g. 2026-01-01T14:00:00Z)")
    if until <= now:
        raise InvalidOutOfService("until", "must be in the future")
    if until > now + MAX_OUT_OF_SERVICE:
        raise InvalidOutOfService("until", "at most 365 days ahead")
    return until


def current_period(device: Device, now: datetime) -> OutOfServicePeriod | None:
    """The period the device is out of service in now, if any."""
    if not device.is_out_of_service(now):
        return None
    return device.out_of_service_periods.filter(ended_at__isnull=True).first()


def device_take_out_of_service(
    *, device_id: str, actor: str, reason: str, until: datetime, now: datetime | None = None
) -> OutOfServicePeriod:
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidOutOfService("reason", "a reason is required")
    check_until(until, now)
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device_id)
        if device.is_out_of_service(now):
            raise OutOfServiceConflict(
                f"already out of service until {device.out_of_service_until:%Y-%m-%d %H:%M} "
                "UTC; return it to service first"
            )
        _close_lapsed(device, now)
        period = OutOfServicePeriod.objects.create(
            device=device, reason=reason.strip(), started_at=now, until=until, taken_by=actor
        )
        device.out_of_service_until = until
        device.save(update_fields=["out_of_service_until"])
    logger.info("device %s out of service until %s by %s", device_id, until, actor)
    return period


def device_return_to_service(
    *, device_id: str, actor: str, note: str = "", now: datetime | None = None
) -> OutOfServicePeriod:
    now = now or timezone.now()
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device_id)
        period = current_period(device, now)
        if period is None:
            raise OutOfServiceConflict("the device is not out of service")
        period.ended_at, period.ended_by, period.end_note = now, actor, note.strip()
        period.save(update_fields=["ended_at", "ended_by", "end_note"])
        device.out_of_service_until = None
        device.save(update_fields=["out_of_service_until"])
    logger.info("device %s returned to service by %s", device_id, actor)
    return period


def _close_lapsed(device: Device, now: datetime) -> None:
    """Close a period whose time ran out before the sweep saw it."""
    OutOfServicePeriod.objects.filter(device=device, ended_at__isnull=True, until__lte=now).update(
        ended_by="system", ended_at=now, end_note="until reached"
    )


def out_of_service_expire(*, now: datetime | None = None) -> int:
    """Return to service every device whose "until" has passed; safe to rerun."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = OutOfServicePeriod.objects.filter(ended_at__isnull=True, until__lte=now).update(
            ended_by="system", ended_at=now, end_note="until reached"
        )
        returned = Device.objects.filter(out_of_service_until__lte=now).update(
            out_of_service_until=None
        )
    if closed or returned:
        logger.info("out of service expired: %d periods closed, %d devices back", closed, returned)
    return returned
