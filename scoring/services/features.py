"""Compute C3 feature windows from clean readings, in SQL, idempotently."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from scoring.feature_sql import FEATURE_COLUMNS, features_select_sql, trailing_select_sql
from scoring.features import WINDOW_MINUTES

logger = logging.getLogger(__name__)

ALL_DEVICES = ("", "~")  # every device id sorts between these (ids are ASCII)

# Late data (domain §10.1): recompute this far back on every refresh, per window size (for
# trailing days: this many more hourly endings).
RECOMPUTE = {15: timedelta(hours=1), 60: timedelta(hours=2), 1440: timedelta(hours=2)}
TRAILING_MINUTES = 1440


def window_floor(moment: datetime, minutes: int) -> datetime:
    """The start of the clock-aligned window of `minutes` containing `moment`."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (moment - midnight) // timedelta(minutes=minutes)
    return midnight + elapsed * timedelta(minutes=minutes)


def features_compute(
    *,
    minutes: int,
    start: datetime,
    end: datetime,
    devices: tuple[str, str] = ALL_DEVICES,
) -> int:
    """Replace the feature rows of `minutes`-windows lying in [start, end); return the count.

    15- and 60-minute windows come from the readings; 1440-minute windows are the trailing
    days ending at each hour, composed from the 60-minute windows (compute those first).
    Delete-then-insert in one transaction, so a re-run gives the same rows and a window
    whose readings were all removed loses its row.
    """
    if minutes not in WINDOW_MINUTES:
        raise ValueError(f"window must be one of {WINDOW_MINUTES} minutes, not {minutes}")
    if minutes == TRAILING_MINUTES:
        return _trailing_compute(start=start, end=end, devices=devices)
    start, end = window_floor(start, minutes), window_floor(end, minutes)
    params = {
        "minutes": minutes,
        "start": start,
        "end": end,
        "device_from": devices[0],
        "device_to": devices[1],
        "running_amps": settings.FLEETMON_RUNNING_CURRENT_A,
    }
    count = _replace(
        params,
        "window_start >= %(start)s AND window_start < %(end)s",
        features_select_sql(),
    )
    logger.info("features %dm %s..%s: %d rows", minutes, start.isoformat(), end.isoformat(), count)
    return count


def _trailing_compute(*, start: datetime, end: datetime, devices: tuple[str, str]) -> int:
    """The trailing days ending on each hour in [start + 1 day, end]."""
    first_end = window_floor(start, 60) + timedelta(days=1)
    last_end = window_floor(end, 60)
    if last_end < first_end:
        return 0
    params = {
        "minutes": TRAILING_MINUTES,
        "first_end": first_end,
        "last_end": last_end,
        "device_from": devices[0],
        "device_to": devices[1],
    }
    count = _replace(
        params, "window_end >= %(first_end)s AND window_end <= %(last_end)s", trailing_select_sql()
    )
    logger.info("trailing days ending %s..%s: %d rows", first_end, last_end, count)
    return count


def _replace(params: dict, window: str, select: str) -> int:
    columns = ", ".join(FEATURE_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM device_features WHERE window_duration_minutes = %(minutes)s"
            f" AND {window} AND device_id BETWEEN %(device_from)s AND %(device_to)s",
            params,
        )
        cursor.execute(
            f"INSERT INTO device_features ({columns}, computed_at)"
            f" SELECT {columns}, now() FROM ({select}) AS computed",
            params,
        )
        return cursor.rowcount


def features_refresh(*, now: datetime) -> dict[int, int]:
    """Compute every closed window due at `now`, re-doing recent ones for late data."""
    counts = {}
    for minutes in (15, 60):
        end = window_floor(now, minutes)
        counts[minutes] = features_compute(minutes=minutes, start=end - RECOMPUTE[minutes], end=end)
    hour = window_floor(now, 60)
    # The hourly scoring run composes the day ending at the hour itself; re-compose the
    # ones before it, which late readings may have changed.
    if now - hour < timedelta(minutes=15):
        counts[TRAILING_MINUTES] = features_compute(
            minutes=TRAILING_MINUTES,
            start=hour - timedelta(days=1) - RECOMPUTE[TRAILING_MINUTES],
            end=hour - timedelta(hours=1),
        )
    return counts
