"""Plotly figures of a device's sensor history: one panel per sensor group, with defrost
and door-open periods shaded so a warm evaporator during defrost reads as expected."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go

from fleetmon.readings.history import SensorHistory
from fleetmon.sensors import SENSOR_BY_NAME

GROUPS = {
    "temperatures": (
        "Temperatures (°C)",
        (
            "temperature_evaporator",
            "temperature_suction",
            "temperature_ambient",
            "temperature_condenser",
            "temperature_discharge",
        ),
    ),
    "pressures": ("Pressures (kPa)", ("pressure_low_side", "pressure_high_side")),
    "compressor": (
        "Compressor, superheat, subcooling",
        ("current_compressor", "vibration_compressor", "superheat", "subcooling"),
    ),
    "humidity": ("Humidity (%RH)", ("humidity",)),
}
# Colour-blind-safe (Okabe-Ito) line colours; shading stays light so lines keep contrast.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
SHADES = {"defrost": "rgba(86,180,233,0.25)", "door open": "rgba(230,159,0,0.25)"}


def _shade(name: str, times, share) -> go.Scatter:
    return go.Scatter(
        x=times,
        y=share,
        name=name,
        yaxis="y2",
        mode="none",
        fill="tozeroy",
        fillcolor=SHADES[name],
        line={"shape": "hv"},
        hovertemplate=f"{name}: %{{y:.0%}}<extra></extra>",
    )


def sensor_figures(history: SensorHistory, marks: dict[str, datetime] | None = None) -> list:
    """[{id, title, figure}] for the page; `marks` draws labelled vertical lines (e.g. the
    moment an alert was first detected)."""
    figures = []
    for key, (title, sensors) in GROUPS.items():
        traces = [_shade("defrost", history.times, history.defrost)]
        if key == "temperatures":
            traces.append(_shade("door open", history.times, history.door_open))
        for i, sensor in enumerate(sensors):
            unit = SENSOR_BY_NAME[sensor].unit
            traces.append(
                go.Scatter(
                    x=history.times,
                    y=history.values[sensor],
                    name=sensor.replace("_", " "),
                    mode="lines",
                    line={"color": PALETTE[i % len(PALETTE)], "width": 1.5},
                    hovertemplate=f"%{{y:.2f}} {unit}<extra>{sensor}</extra>",
                    connectgaps=False,
                )
            )
        layout = go.Layout(
            title={"text": f"{title} · {history.bucket_minutes}-min means", "x": 0},
            height=300,
            margin={"l": 50, "r": 20, "t": 40, "b": 40},
            yaxis2={"overlaying": "y", "range": [0, 1], "visible": False},
            legend={"orientation": "h", "y": -0.2},
            hovermode="x unified",
            paper_bgcolor="#fff",
            plot_bgcolor="#fff",
        )
        figure = go.Figure(traces, layout)
        if not history.times:
            figure.add_annotation(
                text="No readings in this range", showarrow=False, xref="paper", yref="paper"
            )
            figure.update_xaxes(visible=False)
            figure.update_yaxes(visible=False)
        for label, moment in (marks or {}).items():
            figure.add_vline(x=moment, line={"color": "#b42318", "dash": "dash"})
            figure.add_annotation(
                x=moment, y=1, yref="paper", text=label, showarrow=False, yanchor="bottom"
            )
        figures.append({"id": key, "title": title, "figure": figure.to_plotly_json()})
    return figures
