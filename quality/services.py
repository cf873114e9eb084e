"""Writes of the quality app: the hourly dropout job."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from fleetmon.registry.health import health_status
from quality.checks.dropout import DropoutThresholds, classify_dropout
from quality.selectors import device_activity

logger = logging.getLogger(__name__)


def dropout_detect(*, now: datetime) -> dict[str, int]:
    """Classify every active device's last hour (D12) and refresh its registry properties.

    Sets dropout state, health status (D14), last reading time, the 24 h averages and the
    sensors the device reported in 24 h (which SENSOR_GAP compares against). Returns the
    number of devices per dropout state.
    """
    activity = device_activity(now=now)
    if activity.empty:
        return {}
    limits = DropoutThresholds(
        min_readings_per_hour=settings.FLEETMON_DROPOUT_MIN_READINGS_PER_HOUR,
        max_mean_null_sensors=settings.FLEETMON_DROPOUT_MAX_MEAN_NULLS,
    )
    activity["dropout_state"] = classify_dropout(activity, limits)
    activity["health_status"] = [
        health_status(
            dropout_state=state, latest_score=score, worst_open_severity=severity or None
        ).value
        for state, score, severity in zip(
            activity["dropout_state"],
            activity["latest_anomaly_score"],
            activity["worst_open_severity"],
            strict=True,
        )
    ]
    rows = activity.reset_index()
    nullable = rows.astype(object).where(rows.notna(), None)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE registry_device d SET
                dropout_state = u.dropout_state,
                health_status = u.health_status,
                dropout_checked_at = %s,
                last_reading_at = greatest(d.last_reading_at, u.last_reading_at),
                reading_count_24h = u.readings_24h,
                avg_temperature_evaporator_24h = u.avg_evap,
                avg_compressor_current_24h = u.avg_current,
                -- keep the old mask for a silent device: silence is dropout, not removal
                reporting_sensors = coalesce(u.reported, d.reporting_sensors)
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::int[],
                        %s::float8[], %s::float8[], %s::int[])
                AS u(device_id, dropout_state, health_status, last_reading_at, readings_24h,
                     avg_evap, avg_current, reported)
            WHERE d.device_id = u.device_id
            """,
            [
                now,
                nullable["device_id"].tolist(),
                nullable["dropout_state"].tolist(),
                nullable["health_status"].tolist(),
                nullable["last_reading_at"].tolist(),
                [int(n) for n in rows["readings_24h"]],
                nullable["avg_evap_24h"].tolist(),
                nullable["avg_current_24h"].tolist(),
                nullable["reported_24h"].tolist(),
            ],
        )
    counts = activity["dropout_state"].value_counts().to_dict()
    logger.info("dropout job at %s: %s", now.isoformat(), counts)
    return counts
