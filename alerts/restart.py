"""Restart after a site power loss (physics §2): batch models wait out the pull-down.

After a site-offline incident every device of the site restarts together with a warm coil,
a warm box and equalised pressures; the pull-down that follows is normal physics, however
unusual its windows look to a model. Like the post-defrost delay of D10, batch model alerts
on those devices wait for a restart period after the incident closes.

The period comes from an energy balance on each device's own duty cycle d (its trailing
day before the silence): while the power was off the box gained the heat the compressor
would have removed, the outage times the load; the compressor's spare capacity removes it
at the load times (1 - d) / d. So the pull-down takes about the outage times d / (1 - d):
a third of it at a duty of 25 %, three times it at 75 %. The period is that, within the
settings' minimum and maximum; a device with no known duty uses the maximum.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q

from alerts.models import SiteOfflineIncident

TRAILING_DAY_MINUTES = 1440
# Above this duty the spare capacity is too small to estimate from: the maximum applies.
DUTY_CEILING = 0.9


def restart_minutes(*, outage: timedelta, duty: float | None) -> float:
    """The restart period after an outage of a device running at duty `duty`."""
    low = settings.FLEETMON_POST_OUTAGE_MIN_MINUTES
    high = settings.FLEETMON_POST_OUTAGE_MAX_MINUTES
    if duty is None or not 0 < duty < DUTY_CEILING:
        return float(high)
    pull_down = outage.total_seconds() / 60 * duty / (1 - duty)
    return float(min(max(pull_down, low), high))


def devices_restarting(*, device_ids: list[str], window_end: datetime) -> set[str]:
    """Devices of a site-offline incident still open, or closed within their restart period
    before `window_end`."""
    if not device_ids:
        return set()
    since = window_end - timedelta(minutes=settings.FLEETMON_POST_OUTAGE_MAX_MINUTES)
    incidents = SiteOfflineIncident.objects.filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=since),
        opened_at__lte=window_end,
        device_ids__overlap=device_ids,
    )
    wanted = set(device_ids)
    restarting = set()
    for incident in incidents:
        mine = sorted(wanted.intersection(incident.device_ids))
        if incident.closed_at is None:
            restarting.update(mine)
            continue
        outage = incident.closed_at - incident.silent_since
        duties = _duties(mine, before=incident.silent_since)
        for device in mine:
            period = timedelta(minutes=restart_minutes(outage=outage, duty=duties.get(device)))
            if window_end < incident.closed_at + period:
                restarting.add(device)
    return restarting


def _duties(device_ids: list[str], *, before: datetime) -> dict[str, float]:
    """Each device's duty cycle over its last trailing day ending by `before`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (device_id) device_id, duty_cycle FROM device_features
            WHERE window_duration_minutes = %s AND device_id = ANY(%s)
              AND window_end <= %s AND window_end > %s AND duty_cycle IS NOT NULL
            ORDER BY device_id, window_end DESC
            """,
            [TRAILING_DAY_MINUTES, device_ids, before, before - timedelta(days=1)],
        )
        return {device: float(duty) for device, duty in cursor.fetchall()}
