"""A device's score history per model around an alert: the rows and a plotly figure."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
from django.db import connection

# Colour-blind-safe (Okabe-Ito), as the sensor charts.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


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


def score_figure(models: list[dict], mark: datetime | None = None) -> dict:
    """One line per model (0-1 score); its threshold dotted in the same colour; the alert's
    first detection as a dashed vertical line."""
    traces = []
    for i, model in enumerate(models):
        colour = PALETTE[i % len(PALETTE)]
        times = [p["window_end"] for p in model["points"]]
        dash = "solid" if model["role"] == "production" else "dash"
        traces.append(
            go.Scatter(
                x=times,
                y=[p["anomaly_score"] for p in model["points"]],
                name=f"{model['model_id']} ({model['role']})",
                mode="lines+markers",
                line={"color": colour, "width": 1.5, "dash": dash},
                marker={"size": 4},
                hovertemplate="%{y:.3f}<extra>" + model["model_id"] + "</extra>",
            )
        )
        traces.append(
            go.Scatter(
                x=times,
                y=[p["threshold"] for p in model["points"]],
                name=f"{model['model_id']} threshold",
                mode="lines",
                line={"color": colour, "width": 1, "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    layout = go.Layout(
        title={"text": "Anomaly score per model (dotted: its threshold)", "x": 0},
        height=300,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        yaxis={"range": [0, 1.05], "title": "score"},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
    )
    figure = go.Figure(traces, layout)
    if mark is not None:
        figure.add_vline(x=mark, line={"color": "#b42318", "dash": "dash"})
        figure.add_annotation(
            x=mark, y=1, yref="paper", text="alert", showarrow=False, yanchor="bottom"
        )
    return figure.to_plotly_json()
