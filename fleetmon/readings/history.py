"""A device's sensor history for charts, downsampled in SQL so any range stays light.

At most about MAX_POINTS buckets come back whatever the range: a 30-day view of 1-minute
data is 43,200 rows in the table but 720 hourly averages on the wire. Each bucket carries
the mean of every numeric sensor and the share of its minutes with the door open or a
defrost running, which the charts shade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from fleetmon.sensors import NUMERIC_SENSORS

MAX_POINTS = 720
# Bucket widths a person reads easily; the smallest one that keeps under MAX_POINTS wins.
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 720, 1440)
MAX_RANGE = timedelta(days=90)  # domain §7.5: readings are kept 30 days, scores 90


@dataclass(frozen=True)
class SensorHistory:
    bucket_minutes: int
    times: list[datetime]
    values: dict[str, list[float | None]]  # sensor -> mean per bucket
    door_open: list[float]  # share of the bucket's readings with the door open
    defrost: list[float]  # share with a defrost running


def bucket_for(start: datetime, end: datetime) -> int:
    span = (end - start) / timedelta(minutes=1)
    return next((b for b in BUCKET_MINUTES if span / b <= MAX_POINTS), BUCKET_MINUTES[-1])


def sensor_history(*, device_id: str, start: datetime, end: datetime) -> SensorHistory:
    """Bucketed means over [start, end); raises ValueError for an empty or too long range."""
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_RANGE:
        raise ValueError(f"a chart covers at most {MAX_RANGE.days} days")
    bucket = bucket_for(start, end)
    means = ", ".join(f"avg({s})" for s in NUMERIC_SENSORS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT date_bin(%(bucket)s, timestamp_utc, TIMESTAMPTZ '2000-01-01') AS t, {means},
                   coalesce(avg(door_open_close::int), 0), coalesce(avg(defrost_cycle::int), 0)
            FROM clean_sensor_readings
            WHERE device_id = %(device)s AND timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
            GROUP BY t ORDER BY t
            """,
            {"bucket": timedelta(minutes=bucket), "device": device_id, "start": start, "end": end},
        )
        rows = cursor.fetchall()
    n = len(NUMERIC_SENSORS)
    return SensorHistory(
        bucket_minutes=bucket,
        times=[row[0] for row in rows],
        values={s: [row[1 + i] for row in rows] for i, s in enumerate(NUMERIC_SENSORS)},
        door_open=[float(row[1 + n]) for row in rows],
        defrost=[float(row[2 + n]) for row in rows],
    )
