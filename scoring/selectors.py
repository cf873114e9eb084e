"""Reads for scoring: feature frames for training and scoring, score frames for alerts."""

from datetime import datetime, timedelta

import pandas as pd
from django.db import connection

from scoring.features import MODEL_FEATURES


def _frame(sql: str, params: dict) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=columns)


def _features_select(features: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"f.{name}::float8 AS {name}" for name in features)


def training_features(
    *,
    minutes: int,
    start: datetime,
    end: datetime,
    min_completeness: float,
    min_readings: int,
    max_flagged: int,
) -> pd.DataFrame:
    """Feature windows ending in (start, end] that are fit to train on ([TRAIN] §12).

    Columns: device_id, cohort_id, window_start, window_end, sensor_completeness, then
    every feature, sorted by device and time.
    """
    sql = f"""
        SELECT f.device_id, d.cohort_id, f.window_start, f.window_end,
               {_features_select(MODEL_FEATURES)}
        FROM device_features f JOIN registry_device d USING (device_id)
        WHERE f.window_duration_minutes = %(minutes)s
          AND f.window_end > %(start)s AND f.window_end <= %(end)s
          AND f.sensor_completeness >= %(min_completeness)s
          AND f.reading_count >= %(min_readings)s
          AND f.quality_flag_count <= %(max_flagged)s
        ORDER BY f.device_id, f.window_end
    """
    return _frame(
        sql,
        {
            "minutes": minutes,
            "start": start,
            "end": end,
            "min_completeness": min_completeness,
            "min_readings": min_readings,
            "max_flagged": max_flagged,
        },
    )


def scoring_features(
    *, minutes: int, window_end: datetime, device_from: str, device_to: str
) -> pd.DataFrame:
    """The windows ending at `window_end` of the active devices in a range, with each
    device's cohort and dropout state."""
    sql = f"""
        SELECT f.device_id, d.cohort_id, d.dropout_state, f.window_start, f.window_end,
               f.reading_count, f.sensor_completeness AS completeness,
               {_features_select(MODEL_FEATURES)}
        FROM device_features f JOIN registry_device d USING (device_id)
        WHERE f.window_duration_minutes = %(minutes)s AND f.window_end = %(window_end)s
          AND f.device_id BETWEEN %(device_from)s AND %(device_to)s AND d.is_active
        ORDER BY f.device_id
    """
    return _frame(
        sql,
        {
            "minutes": minutes,
            "window_end": window_end,
            "device_from": device_from,
            "device_to": device_to,
        },
    )


def feature_history(
    *, minutes: int, window_end: datetime, history: int, device_ids: list[str]
) -> pd.DataFrame:
    """Up to `history` windows before `window_end` for these devices, to forward-fill from."""
    sql = f"""
        SELECT f.device_id, d.cohort_id, f.window_start, f.window_end,
               {_features_select(MODEL_FEATURES)}
        FROM device_features f JOIN registry_device d USING (device_id)
        WHERE f.window_duration_minutes = %(minutes)s AND f.device_id = ANY(%(devices)s)
          AND f.window_end >= %(window_end)s - make_interval(mins => %(span)s)
          AND f.window_end < %(window_end)s
        ORDER BY f.device_id, f.window_end
    """
    return _frame(
        sql,
        {
            "minutes": minutes,
            "window_end": window_end,
            "span": minutes * history,
            "devices": device_ids,
        },
    )


def active_device_ids() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT device_id FROM registry_device WHERE is_active ORDER BY device_id")
        return [row[0] for row in cursor.fetchall()]


def run_flagged_scores(*, run_id: int) -> pd.DataFrame:
    """The flagged production scores a run wrote, with each model's kind."""
    return _frame(
        """
        SELECT s.device_id, s.model_id, v.kind, s.window_start, s.window_end, s.anomaly_score,
               s.anomaly_flag, s.top_contributors, s.contributor_scores
        FROM model_scores s JOIN scoring_modelversion v ON v.model_id = s.model_id
        WHERE s.run_id = %(run_id)s AND s.deployment_role = 'production' AND s.anomaly_flag
        """,
        {"run_id": run_id},
    )


def run_best_model_scores(*, run_id: int) -> dict[str, float]:
    """Per device the run scored with a production model (the rules fallback excluded), its
    highest score."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.device_id, max(s.anomaly_score)
            FROM model_scores s JOIN scoring_modelversion v ON v.model_id = s.model_id
            WHERE s.run_id = %s AND s.deployment_role = 'production'
              AND v.kind <> 'rules_fallback'
            GROUP BY s.device_id
            """,
            [run_id],
        )
        return dict(cursor.fetchall())


def score_slopes(*, device_ids: list[str], since: datetime, until: datetime) -> dict[str, float]:
    """Per device, the least-squares slope (per hour) of its max production score over time."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT device_id, regr_slope(score, extract(epoch FROM window_end) / 3600.0)
            FROM (
                SELECT s.device_id, s.window_end, max(s.anomaly_score) AS score
                FROM model_scores s JOIN scoring_modelversion v ON v.model_id = s.model_id
                WHERE s.window_end > %s AND s.window_end <= %s AND s.device_id = ANY(%s)
                  AND s.deployment_role = 'production' AND v.kind <> 'rules_fallback'
                GROUP BY 1, 2
            ) per_window
            GROUP BY device_id
            """,
            [since, until, device_ids],
        )
        return {d: s for d, s in cursor.fetchall() if s is not None}


def latest_production_scores(*, since: datetime) -> list[dict]:
    """Per production model (the rules fallback excluded): its newest window after `since`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT v.model_id, v.kind, max(s.window_end), max(s.scored_at)
            FROM scoring_modelversion v
            LEFT JOIN model_scores s ON s.model_id = v.model_id
                 AND s.window_end > %s
            WHERE v.role = 'production' AND v.kind <> 'rules_fallback'
            GROUP BY v.model_id, v.kind
            ORDER BY v.kind
            """,
            [since],
        )
        return [
            {"model_id": m, "kind": k, "latest_window_end": w, "latest_scored_at": s}
            for m, k, w, s in cursor.fetchall()
        ]


def devices_in_defrost_mode(
    *, device_ids: list[str], window_end: datetime, minutes: int, delay_minutes: int
) -> set[str]:
    """Devices whose window ending at `window_end`, or one ending up to `delay_minutes`
    before it, had defrost activity: their evaporator is still recovering (decision D10)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT device_id FROM device_features
            WHERE window_duration_minutes = %s AND device_id = ANY(%s)
              AND window_end >= %s AND window_end <= %s AND defrost_active_fraction > 0
            """,
            [minutes, device_ids, window_end - timedelta(minutes=delay_minutes), window_end],
        )
        return {row[0] for row in cursor.fetchall()}


def previous_scores(
    *, device_ids: list[str], before: datetime, within: timedelta, minutes: int = 15
) -> dict[str, tuple[float, bool, datetime]]:
    """Each device's highest production model score, whether any model flagged, and the
    window's end, for its latest scored `minutes`-window before `before` (not older than
    `within`): "the immediately preceding window" of D3."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (s.device_id) s.device_id, max(s.anomaly_score),
                   bool_or(s.anomaly_flag), s.window_end
            FROM model_scores s JOIN scoring_modelversion v ON v.model_id = s.model_id
            WHERE s.window_end < %s AND s.window_end >= %s AND s.device_id = ANY(%s)
              AND s.deployment_role = 'production' AND v.kind <> 'rules_fallback'
              AND v.window_minutes = %s
            GROUP BY s.device_id, s.window_end
            ORDER BY s.device_id, s.window_end DESC
            """,
            [before, before - within, device_ids, minutes],
        )
        return {device: (score, flagged, end) for device, score, flagged, end in cursor.fetchall()}
