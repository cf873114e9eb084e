"""Plotly figures of the device and overview pages: a device's score history per model and
the fleet's alerts per week by severity. Pure: data in, figure JSON out."""

from __future__ import annotations

import json
from datetime import datetime

import plotly.graph_objects as go

from fleetmon.readings.charts import PALETTE
from fleetmon.registry.summaries import ScoreHistory

# D3's cut-offs, drawn so a reader sees which band a score is in.
SCORE_BANDS = ((0.7, "MEDIUM"), (0.85, "HIGH"), (0.95, "CRITICAL"))
SEVERITY_COLOURS = {  # the design system's severity inks (fleetmon.css)
    "CRITICAL": "#b42318",
    "HIGH": "#b54708",
    "MEDIUM": "#854d0e",
    "LOW": "#175cd3",
}
# The severity inks are close in hue, so bars also differ by fill pattern (not colour alone).
SEVERITY_PATTERNS = {"CRITICAL": "", "HIGH": "/", "MEDIUM": ".", "LOW": "x"}
DASH = {"production": "solid", "canary": "dash", "shadow": "dot"}


def _plain(figure: go.Figure) -> dict:
    """The figure as plain JSON types (plotly's encoder: dates, numpy), for any serialiser."""
    return json.loads(figure.to_json())


def _layout(title: str, **extra) -> go.Layout:
    return go.Layout(
        title={"text": title, "x": 0},
        height=300,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        **extra,
    )


def score_figure(
    history: ScoreHistory, *, start: datetime, end: datetime, mark: datetime | None = None
) -> dict:
    """One line per model (and deployment role) over [start, end], severity bands marked;
    `mark` draws the moment an alert was first detected."""
    traces = []
    for i, ((model_id, role), points) in enumerate(sorted(history.series.items())):
        name = model_id if role == "production" else f"{model_id} ({role})"
        traces.append(
            go.Scatter(
                x=[t for t, _ in points],
                y=[s for _, s in points],
                name=name,
                mode="lines+markers" if len(points) < 50 else "lines",
                line={
                    "color": PALETTE[i % len(PALETTE)],
                    "width": 1.5,
                    "dash": DASH.get(role, "solid"),
                },
                hovertemplate=f"%{{y:.3f}}<extra>{name}</extra>",
            )
        )
    figure = go.Figure(
        traces,
        _layout(
            "Anomaly score per model"
            + (f" · highest per {history.bucket_minutes} min" if history.bucket_minutes else ""),
            yaxis={"range": [0, 1.02], "title": "score"},
            # The whole range even where nothing was scored, aligned with the sensor charts.
            xaxis={"type": "date", "range": [start.isoformat(), end.isoformat()]},
            hovermode="x unified",
        ),
    )
    for cut, severity in SCORE_BANDS:
        figure.add_hline(
            y=cut,
            line={"color": SEVERITY_COLOURS[severity], "dash": "dot", "width": 1},
            annotation_text=f"{severity} > {cut:g}",
            annotation_position="top left",
        )
    if mark is not None:
        figure.add_vline(x=mark, line={"color": SEVERITY_COLOURS["CRITICAL"], "dash": "dash"})
        figure.add_annotation(
            x=mark, y=1, yref="paper", text="alert", showarrow=False, yanchor="bottom"
        )
    if not traces:
        figure.add_annotation(
            text="No scores in this range",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
        )
    return _plain(figure)


def weekly_alerts_figure(weeks: list[tuple[datetime, dict[str, int]]]) -> dict:
    """Grouped bars: alerts per week (x: week start) and severity."""
    traces = [
        go.Bar(
            x=[start for start, _ in weeks],
            y=[counts.get(severity, 0) for _, counts in weeks],
            name=severity,
            marker={"color": colour, "pattern": {"shape": SEVERITY_PATTERNS[severity]}},
            hovertemplate=f"%{{y}} {severity}<extra>week of %{{x|%d %b}}</extra>",
        )
        for severity, colour in SEVERITY_COLOURS.items()
    ]
    figure = go.Figure(
        traces,
        _layout(
            "Alerts per week by severity",
            barmode="group",
            xaxis={"title": "week starting", "tickformat": "%d %b"},
            yaxis={"title": "alerts", "rangemode": "tozero"},
        ),
    )
    return _plain(figure)
