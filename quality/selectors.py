"""Reads over the readings tables for the quality jobs. Portable SQL (no TimescaleDB needed)."""

from datetime import datetime, timedelta

import pandas as pd
from django.db import connection

from fleetmon.sensors import SENSOR_NAMES

_REPORTED_MASK = " | ".join(
    f"(CASE WHEN {name} IS NOT NULL THEN {1 << i} ELSE 0 END)"
    for i, name in enumerate(SENSOR_NAMES)
)


def device_activity(*, now: datetime) -> pd.DataFrame:
    """Per active device: readings and mean null sensors in the last hour, and 24 h figures.

    Dead-lettered readings (every sensor null) count as readings with 14 nulls: a device
    that sends empty messages is dropping sensors, not offline.
    """
    sql = f"""
        WITH received AS (
            SELECT device_id, timestamp_utc, sensor_null_count,
                   temperature_evaporator, current_compressor, ({_REPORTED_MASK}) AS reported
            FROM clean_sensor_readings
            WHERE timestamp_utc >= %(day)s AND timestamp_utc < %(now)s
            UNION ALL
            SELECT device_id, timestamp_utc, 14, NULL, NULL, 0
            FROM dead_letter_sensor_readings
            WHERE timestamp_utc >= %(day)s AND timestamp_utc < %(now)s
        ), per_device AS (
            SELECT device_id,
                   count(*) FILTER (WHERE timestamp_utc >= %(hour)s) AS readings_1h,
                   avg(sensor_null_count) FILTER (WHERE timestamp_utc >= %(hour)s) AS mean_nulls_1h,
                   count(*) FILTER (WHERE sensor_null_count < 14) AS readings_24h,
                   max(timestamp_utc) AS last_reading_at,
                   avg(temperature_evaporator) AS avg_evap_24h,
                   avg(current_compressor) AS avg_current_24h,
                   bit_or(reported) AS reported_24h
            FROM received GROUP BY device_id
        )
        SELECT d.device_id, d.latest_anomaly_score, d.worst_open_severity,
               coalesce(p.readings_1h, 0) AS readings_1h, p.mean_nulls_1h,
               coalesce(p.readings_24h, 0) AS readings_24h, p.last_reading_at,
               p.avg_evap_24h, p.avg_current_24h, p.reported_24h
        FROM registry_device d LEFT JOIN per_device p USING (device_id)
        WHERE d.is_active
        ORDER BY d.device_id
    """
    params = {"now": now, "hour": now - timedelta(hours=1), "day": now - timedelta(hours=24)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    return frame.set_index("device_id")


def device_history(*, device_id: str, since: datetime, until: datetime) -> list[dict]:
    """A device's clean readings in [since, until), oldest first, as stream payloads."""
    columns = ", ".join(SENSOR_NAMES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT timestamp_utc, {columns} FROM clean_sensor_readings"
            " WHERE device_id = %s AND timestamp_utc >= %s AND timestamp_utc < %s"
            " ORDER BY timestamp_utc",
            [device_id, since, until],
        )
        return [
            {
                "device_id": device_id,
                "timestamp": row[0],
                "values": dict(zip(SENSOR_NAMES, row[1:], strict=True)),
            }
            for row in cursor.fetchall()
        ]
