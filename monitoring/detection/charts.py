"""Plotly figures of the dashboard's Detection section. Pure: the trend rows of
monitoring.detection.selectors in, plain figure JSON out (drawn by static/js/charts.js)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from fleetmon.readings.charts import PALETTE

# (column, legend name, axis, colour, marker, dash): shares on the left axis, the healthy
# alert rate (a count per device-day, not a share) on the right. Markers and dashes differ
# too, so the series stay apart without colour.
SERIES = (
    ("acute_recall", "acute recall in time", "y", PALETTE[0], "circle", "solid"),
    ("gradual_recall", "gradual recall before failure", "y", PALETTE[2], "square", "dash"),
    ("d9_share", "D9: HIGH/CRITICAL hitting no fault", "y", PALETTE[1], "diamond", "dot"),
    (
        "healthy_high_critical_per_device_day",
        "HIGH/CRITICAL per healthy device-day",
        "y2",
        PALETTE[3],
        "triangle-up",
        "dashdot",
    ),
)
# The right axis shows at least this much, so one small or zero rate is not drawn as a
# full-height swing (issue 11's target is 0.05).
MIN_RATE_AXIS = 0.1


def point_label(point: dict[str, Any]) -> str:
    """Name one evaluation on the x axis: its id and when it ran."""
    return f"#{point['id']} {point['created_at']:%m-%d %H:%M}"


def trend_figure(points: list[dict[str, Any]]) -> dict:
    """The headline figures of each evaluation, one point per evaluation, oldest first."""
    labels = [point_label(p) for p in points]
    customdata = [[p["seed"], p["devices"]] for p in points]
    traces, axes_used = [], set()
    for column, name, axis, colour, symbol, dash in SERIES:
        values = [p.get(column) for p in points]
        if all(v is None for v in values):
            continue  # a measure no evaluation could take draws nothing, not an empty axis
        axes_used.add(axis)
        share = axis == "y"
        traces.append(
            go.Scatter(
                x=labels,
                y=values,
                name=name,
                yaxis=axis,
                mode="lines+markers" if len(points) > 1 else "markers",
                line={"color": colour, "dash": dash, "width": 2},
                marker={"symbol": symbol, "size": 9, "color": colour},
                customdata=customdata,
                connectgaps=False,
                hovertemplate=(
                    f"%{{y:{'.0%' if share else '.3f'}}}"
                    " (seed %{customdata[0]}, %{customdata[1]} devices)"
                    f"<extra>{name}</extra>"
                ),
            )
        )
    layout: dict[str, Any] = {
        "title": {"text": "Detection scorecard trend", "x": 0},
        "height": 340,
        "margin": {"l": 60, "r": 70, "t": 40, "b": 60},
        "legend": {"orientation": "h", "y": -0.3},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "xaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": labels,
            "title": "evaluation",
            "visible": bool(traces),
        },
        "yaxis": {
            "title": "share",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "visible": "y" in axes_used,
        },
    }
    if "y2" in axes_used:
        rates = [p.get("healthy_high_critical_per_device_day") or 0.0 for p in points]
        layout["yaxis2"] = {
            "title": "per device-day",
            "overlaying": "y" if "y" in axes_used else None,
            "side": "right",
            "range": [0, max(MIN_RATE_AXIS, max(rates) * 1.15)],
            # Its own round ticks, not ticks lined up with the share axis' grid.
            "tickmode": "auto",
            "showgrid": "y" not in axes_used,
        }
    figure = go.Figure(traces, go.Layout(**layout))
    if not traces:
        figure.add_annotation(
            text="No succeeded evaluation yet",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
        )
    return json.loads(figure.to_json())
