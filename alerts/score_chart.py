"""A device's score history per model around an alert: every scored window, with its flag
and threshold. The chart is the device page's (fleetmon.registry.charts.score_figure)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from fleetmon.registry.summaries import ScoreHistory


def device_score_history(*, device_id: str, start: datetime, end: datetime) -> list[dict]:
    """Per model that scored the device in [start, end]: its kind, role and points, oldest
    first. Canary and shadow scores are included (they never alert; the chart dashes them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.model_id, coalesce(v.kind, ''), s.deployment_role, s.window_end,
                   s.anomaly_score, s.anomaly_flag, s.threshold_used
            FROM model_scores s LEFT JOIN scoring_modelversion v ON v.model_id = s.model_id
            WHERE s.device_id = %s AND s.window_end >= %s AND s.window_end <= %s
            ORDER BY s.model_id, s.window_end
            """,
            [device_id, start, end],
        )
        rows = cursor.fetchall()
    models: dict[str, dict] = {}
    for model_id, kind, role, window_end, score, flag, threshold in rows:
        entry = models.setdefault(
            model_id, {"model_id": model_id, "kind": kind, "role": role, "points": []}
        )
        entry["role"] = role  # the latest role the model scored with
        entry["points"].append(
            {
                "window_end": window_end,
                "anomaly_score": score,
                "anomaly_flag": flag,
                "threshold": threshold,
            }
        )
    return list(models.values())


def score_series(models: list[dict]) -> ScoreHistory:
    """The rows of device_score_history as the device page's chart input, unbucketed."""
    return ScoreHistory(
        bucket_minutes=None,
        series={
            (m["model_id"], m["role"]): [(p["window_end"], p["anomaly_score"]) for p in m["points"]]
            for m in models
        },
    )
