"""Maintenance windows: a time when a device, site, cohort or region is worked on.

An alert raised inside a window is still stored (the record of what happened stays
whole) but suppressed by that window: it stays out of the active queue (like a D6
duplicate; shown with "include suppressed"), its timeline says which window suppressed it,
and nobody is notified. The streaming worker and score-to-alert call `window_for` once
per new alert.

A window is one-off (`starts_at` to `ends_at`) or recurring: every `weekdays` (0 Monday ..
6 Sunday) from `start_time` to `end_time`, local time in the region's time zone
(FLEETMON_REGION_TIMEZONES), from `starts_at` until `ends_at` (none: for good). An end time
at or before the start time runs past midnight into the next day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import workflow
from alerts.models import AlertEvent, DeviceAlert, MaintenanceEvent, MaintenanceWindow
from alerts.shelving import site_timezone

Scope = MaintenanceWindow.Scope
Kind = MaintenanceWindow.Kind
UPCOMING = timedelta(days=7)


class InvalidWindow(ValueError):
    """The window asked for is wrong; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- when a window is open


def occurrences(window: MaintenanceWindow, *, region: str, start: datetime, end: datetime):
    """The (begin, end) spans of the window overlapping [start, end), in order."""
    if window.kind == Kind.ONE_OFF:
        if window.starts_at < end and window.ends_at > start:
            yield window.starts_at, window.ends_at
        return
    zone = site_timezone(region)
    day = start.astimezone(zone).date() - timedelta(days=1)  # a span from the day before
    last = end.astimezone(zone).date()
    while day <= last:
        if day.weekday() in window.weekdays:
            begin = datetime.combine(day, window.start_time, tzinfo=zone)
            finish_day = day if window.end_time > window.start_time else day + timedelta(days=1)
            finish = datetime.combine(finish_day, window.end_time, tzinfo=zone)
            begin, finish = max(begin, window.starts_at), finish
            if window.ends_at is not None:
                finish = min(finish, window.ends_at)
            if begin < finish and begin < end and finish > start:
                yield begin.astimezone(start.tzinfo), finish.astimezone(start.tzinfo)
        day += timedelta(days=1)


def covers(window: MaintenanceWindow, *, region: str, at: datetime) -> bool:
    if window.cancelled_at is not None:
        return False
    return any(occurrences(window, region=region, start=at, end=at + timedelta(microseconds=1)))


def windows_of(device) -> Q:
    """Windows whose scope takes in `device`."""
    return (
        Q(scope=Scope.DEVICE, device_id=device.pk)
        | Q(scope=Scope.SITE, site_id=device.site_id)
        | Q(scope=Scope.COHORT, cohort_id=device.cohort_id)
        | Q(scope=Scope.REGION, region=device.region)
    )


def live_windows(at: datetime) -> list[MaintenanceWindow]:
    """Every window that may be open at `at`, for a caller with many devices to check."""
    return list(
        MaintenanceWindow.objects.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            cancelled_at__isnull=True,
            starts_at__lte=at,
        ).order_by("pk")
    )


def _takes_in(window: MaintenanceWindow, device) -> bool:
    return {
        Scope.DEVICE: window.device_id == device.pk,
        Scope.SITE: window.site_id == device.site_id,
        Scope.COHORT: window.cohort_id == device.cohort_id,
        Scope.REGION: window.region == device.region,
    }[window.scope]


def window_for(device, at: datetime, *, live: list | None = None) -> MaintenanceWindow | None:
    """The window (the earliest made) that `device` is in at `at`, if any; `live` is
    live_windows(at) when the caller already has it (one query for a whole batch run)."""
    if live is None:
        live = MaintenanceWindow.objects.filter(
            windows_of(device),
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            cancelled_at__isnull=True,
            starts_at__lte=at,
        ).order_by("pk")
    return next(
        (w for w in live if _takes_in(w, device) and covers(w, region=device.region, at=at)),
        None,
    )


def suppress_in_window(
    alert: DeviceAlert, device, at: datetime, *, live: list | None = None
) -> MaintenanceWindow | None:
    """Before a new alert is saved: mark it suppressed by the window it falls in."""
    window = window_for(device, at, live=live)
    if window is not None:
        alert.suppressed = True
        alert.maintenance_window = window
    return window


def record_suppression(alert: DeviceAlert, window: MaintenanceWindow, now: datetime) -> None:
    """After it is saved: the timeline says which window suppressed it."""
    AlertEvent.objects.create(
        alert=alert,
        kind="suppressed_by_window",
        actor="system",
        note=f"inside maintenance window {window.pk}: {window.reason}",
        at=now,
        details={"maintenance_window_id": window.pk},
    )


# ---------------------------------------------------------------- writes


def maintenance_window_create(
    *,
    actor: str,
    scope: str,
    target: str,
    kind: str,
    reason: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    weekdays: list[int] | None = None,
    start_time=None,
    end_time=None,
    maintenance_event_id=None,
    now: datetime | None = None,
) -> MaintenanceWindow:
    """Create a window; the caller has checked `target` is in the actor's scope."""
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidWindow("reason", "a reason is required")
    if kind == Kind.ONE_OFF:
        if ends_at is None:
            raise InvalidWindow("ends_at", "a one-off window needs an end")
        if weekdays or start_time or end_time:
            raise InvalidWindow("weekdays", "only a recurring window has weekdays and hours")
    else:
        if not weekdays:
            raise InvalidWindow("weekdays", "a recurring window needs at least one weekday")
        if any(day not in range(7) for day in weekdays):
            raise InvalidWindow("weekdays", "weekdays run from 0 (Monday) to 6 (Sunday)")
        if start_time is None or end_time is None:
            raise InvalidWindow("start_time", "a recurring window needs start and end times")
        if start_time == end_time:
            raise InvalidWindow("end_time", "must differ from start_time")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidWindow("ends_at", "must be later than starts_at")
    if ends_at is not None and ends_at <= now:
        raise InvalidWindow("ends_at", "must be in the future")
    fields = {"device_id": None, "site_id": None, "cohort_id": None, "region": ""}
    fields[
        {"device": "device_id", "site": "site_id", "cohort": "cohort_id"}.get(scope, "region")
    ] = target
    event = None
    if maintenance_event_id:
        event = MaintenanceEvent.objects.filter(pk=maintenance_event_id).first()
        if event is None:
            raise InvalidWindow("maintenance_event_id", "no such maintenance event")
    return MaintenanceWindow.objects.create(
        scope=scope,
        kind=kind,
        reason=reason.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        weekdays=sorted(set(weekdays or [])),
        start_time=start_time,
        end_time=end_time,
        maintenance_event=event,
        created_by=actor,
        created_at=now,
        **fields,
    )


def maintenance_window_cancel(*, window_id: int, actor: str, now: datetime | None = None):
    now = now or timezone.now()
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window_id)
        if window.cancelled_at is not None:
            raise InvalidWindow("window", "already cancelled")
        window.cancelled_at, window.cancelled_by = now, actor
        window.save(update_fields=["cancelled_at", "cancelled_by"])
    return window


# ---------------------------------------------------------------- reads


def region_of(window: MaintenanceWindow) -> str:
    """Whose clock a recurring window keeps: its device's or site's region, else its own
    (a cohort window keeps UTC: it spans regions)."""
    if window.device_id:
        return window.device.region
    if window.site_id:
        return window.site.region
    return window.region


def windows_visible(profile, now: datetime, *, every: bool = False):
    """Windows in the user's scope: not cancelled and not over, unless `every`."""
    query = MaintenanceWindow.objects.select_related("device", "site")
    if not every:
        query = query.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now), cancelled_at__isnull=True
        )
    if not profile.fleet_wide:
        query = query.filter(
            Q(device__region__in=profile.regions)
            | Q(device__site_id__in=profile.sites)
            | Q(site__region__in=profile.regions)
            | Q(site_id__in=profile.sites)
            | Q(region__in=profile.regions)
            | Q(scope=Scope.COHORT)
        )
    return query.order_by("starts_at", "pk")


def schedule_maintenance_quietly(*, quiet_hours: int | None, **visit) -> workflow.Outcome:
    """ "Schedule maintenance" (alerts.workflow), and with `quiet_hours` a one-off window on
    the device from the visit's time for that long, linked to it: both or neither."""
    with transaction.atomic():
        outcome = workflow.schedule_maintenance(**visit)
        if quiet_hours:
            maintenance = outcome.maintenance
            try:
                maintenance_window_create(
                    actor=visit["actor"],
                    scope=Scope.DEVICE,
                    target=maintenance.device_id,
                    kind=Kind.ONE_OFF,
                    reason=f"maintenance visit: {maintenance.work_description}",
                    starts_at=maintenance.scheduled_date,
                    ends_at=maintenance.scheduled_date + timedelta(hours=quiet_hours),
                    maintenance_event_id=maintenance.pk,
                    now=visit.get("now"),
                )
            except InvalidWindow as invalid:
                raise InvalidWindow(
                    "quiet_hours", f"the window would be wrong: {invalid}"
                ) from invalid
    return outcome
