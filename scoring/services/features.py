"""Compute C3 feature windows from clean readings, in SQL, idempotently."""

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction

from scoring.feature_sql import FEATURE_COLUMNS, features_select_sql
from scoring.features import WINDOW_MINUTES

logger = logging.getLogger(__name__)

ALL_DEVICES = ("", "~")  # every device id sorts between these (ids are ASCII)

# Late data (domain §10.1): recompute this far back on every refresh, per window size.
RECOMPUTE = {15: timedelta(hours=1), 60: timedelta(hours=2), 1440: timedelta(days=1)}


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
    """Replace the feature rows of `minutes`-windows starting in [start, end); return the count.

    Delete-then-insert in one transaction, so a re-run gives the same rows and a window
    whose readings were all removed loses its row.
    """
    if minutes not in WINDOW_MINUTES:
        raise ValueError(f"window must be one of {WINDOW_MINUTES} minutes, not {minutes}")
    start, end = window_floor(start, minutes), window_floor(end, minutes)
    params = {
        "minutes": minutes,
        "start": start,
        "end": end,
        "device_from": devices[0],
        "device_to": devices[1],
    }
    columns = ", ".join(FEATURE_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM device_features WHERE window_duration_minutes = %(minutes)s"
            " AND window_start >= %(start)s AND window_start < %(end)s"
            " AND device_id BETWEEN %(device_from)s AND %(device_to)s",
            params,
        )
        cursor.execute(
            f"INSERT INTO device_features ({columns}, computed_at)"
            f" SELECT {columns}, now() FROM ({features_select_sql()}) AS computed",
            params,
        )
        count = cursor.rowcount
    logger.info("features %dm %s..%s: %d rows", minutes, start.isoformat(), end.isoformat(), count)
    return count


def features_refresh(*, now: datetime) -> dict[int, int]:
    """Compute every closed window due at `now`, re-doing recent ones for late data.

    Daily windows are (re)computed only in the first hours of the next day.
    """
    counts = {}
    for minutes in WINDOW_MINUTES:
        end = window_floor(now, minutes)
        if minutes == 1440 and now - end > timedelta(hours=3):
            continue
        counts[minutes] = features_compute(minutes=minutes, start=end - RECOMPUTE[minutes], end=end)
    return counts
