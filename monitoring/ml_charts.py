"""Plotly figures of the ML engineer dashboard and the data-health page. Pure: the reads of
monitoring.ml_dashboard in, plain figure JSON out (drawn by static/js/charts.js)."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from fleetmon.readings.charts import PALETTE

# Colour-blind-safe blue/orange; the heatmaps use one sequential scale (light = good).
TODAY, BASELINE = "#0072B2", "#E69F00"
AGREEMENT_SCALE = "Blues"
NULL_SCALE = "OrRd"


def _plain(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def _layout(title: str, **extra) -> go.Layout:
    defaults = {
        "height": 300,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "legend": {"orientation": "h", "y": -0.25},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
    }
    return go.Layout(title={"text": title, "x": 0}, **(defaults | extra))


def _empty(figure: go.Figure, text: str) -> go.Figure:
    figure.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


def score_histogram_figure(entry: dict) -> dict:
    """One model's score distribution: last 24 h against the 7 days before (as shares)."""
    edges = entry["bin_edges"]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    figure = go.Figure(
        [
            go.Bar(
                x=centres,
                y=entry["baseline_share"],
                name="7 days before",
                marker={"color": BASELINE, "pattern": {"shape": "/"}},
                opacity=0.75,
                hovertemplate="score %{x:.3f}: %{y:.1%}<extra>7 days before</extra>",
            ),
            go.Bar(
                x=centres,
                y=entry["today_share"],
                name="last 24 h",
                marker={"color": TODAY},
                opacity=0.75,
                hovertemplate="score %{x:.3f}: %{y:.1%}<extra>last 24 h</extra>",
            ),
        ],
        _layout(
            f"{entry['model_id']}: score distribution",
            barmode="overlay",
            bargap=0.05,
            xaxis={"title": "anomaly score", "range": [0, 1]},
            yaxis={"title": "share of scores", "tickformat": ".0%", "rangemode": "tozero"},
        ),
    )
    if not sum(entry["today"]) and not sum(entry["baseline"]):
        _empty(figure, "No scores stored yet")
    return _plain(figure)


def agreement_figure(agreement: dict) -> dict:
    """Model x model heatmap of pairwise flag agreement (the diagonal is 1)."""
    models = agreement["models"]
    text = [[("–" if v is None else f"{v:.0%}") for v in row] for row in agreement["matrix"]]
    figure = go.Figure(
        [
            go.Heatmap(
                z=agreement["matrix"],
                x=models,
                y=models,
                zmin=0.5,
                zmax=1.0,
                colorscale=AGREEMENT_SCALE,
                text=text,
                texttemplate="%{text}",
                hovertemplate="%{y} vs %{x}: %{z:.1%}<extra></extra>",
                colorbar={"title": "agree", "tickformat": ".0%"},
            )
        ],
        _layout(
            "Pairwise flag agreement (latest run)",
            height=320,
            xaxis={"type": "category"},
            yaxis={"type": "category", "autorange": "reversed"},
        ),
    )
    if not models:
        _empty(figure, "Fewer than two production models have scored together")
    return _plain(figure)


def contamination_figure(trend: list[dict]) -> dict:
    """Anomaly rate per run of each production model, its target dotted beside it."""
    traces = []
    for i, entry in enumerate(trend):
        colour = PALETTE[i % len(PALETTE)]
        points = entry["points"]
        traces.append(
            go.Scatter(
                x=[p["window_end"] for p in points],
                y=[p["anomaly_rate"] for p in points],
                name=entry["model_id"],
                mode="lines+markers" if len(points) < 60 else "lines",
                line={"color": colour, "width": 1.5},
                hovertemplate=f"%{{y:.1%}}<extra>{entry['model_id']}</extra>",
            )
        )
        if entry["target"] is not None and points:
            traces.append(
                go.Scatter(
                    x=[points[0]["window_end"], points[-1]["window_end"]],
                    y=[entry["target"]] * 2,
                    name=f"{entry['model_id']} target",
                    mode="lines",
                    line={"color": colour, "dash": "dot", "width": 1},
                    hovertemplate=f"target %{{y:.1%}}<extra>{entry['model_id']}</extra>",
                )
            )
    figure = go.Figure(
        traces,
        _layout(
            "Anomaly rate per run vs target (7 days)",
            xaxis={"type": "date"},
            yaxis={"title": "flagged devices", "tickformat": ".0%", "rangemode": "tozero"},
        ),
    )
    if not any(entry["points"] for entry in trend):
        _empty(figure, "No runs in the last 7 days")
    return _plain(figure)


def null_rate_figure(grid: dict) -> dict:
    """Sensors x hours heatmap of the fleet null rate."""
    figure = go.Figure(
        [
            go.Heatmap(
                z=grid["values"],
                x=grid["hours"],
                y=grid["sensors"],
                zmin=0,
                zmax=max([0.1] + [v for row in grid["values"] for v in row if v is not None]),
                colorscale=NULL_SCALE,
                hovertemplate="%{y} at %{x|%d %b %H:%M}: %{z:.1%} null<extra></extra>",
                colorbar={"title": "null", "tickformat": ".0%"},
            )
        ],
        _layout(
            "Null rate per sensor per hour (48 h)",
            height=420,
            margin={"l": 170, "r": 20, "t": 40, "b": 50},
            xaxis={"type": "date"},
            yaxis={"autorange": "reversed"},
        ),
    )
    if all(v is None for row in grid["values"] for v in row):
        _empty(figure, "No hours computed yet")
    return _plain(figure)


def flag_mix_figure(mix: dict, *, x_range: tuple) -> dict:
    """Each quality flag's hourly rate (solid) and its 30-day rate (dotted)."""
    traces = []
    for i, flag in enumerate(mix["flags"]):
        points = mix["series"][flag]
        if not points:
            continue
        colour = PALETTE[i % len(PALETTE)]
        traces.append(
            go.Scatter(
                x=[p["hour"] for p in points],
                y=[p["rate"] for p in points],
                name=flag,
                mode="lines",
                line={"color": colour, "width": 1.5},
                hovertemplate=f"%{{y:.2%}}<extra>{flag}</extra>",
            )
        )
        if any(p["baseline"] is not None for p in points):
            traces.append(
                go.Scatter(
                    x=[p["hour"] for p in points],
                    y=[p["baseline"] for p in points],
                    name=f"{flag} 30-day rate",
                    mode="lines",
                    line={"color": colour, "dash": "dot", "width": 1},
                    hovertemplate=f"30-day %{{y:.2%}}<extra>{flag}</extra>",
                )
            )
    figure = go.Figure(
        traces,
        _layout(
            "Quality-flag mix per hour vs 30-day rate",
            xaxis={"type": "date", "range": list(x_range)},
            yaxis={"title": "share of readings", "tickformat": ".1%", "rangemode": "tozero"},
        ),
    )
    if not traces:
        _empty(figure, "No hours computed yet")
    return _plain(figure)


def completeness_figure(points: list[dict], *, limit: float, x_range: tuple) -> dict:
    """Median sensor completeness per hour, with the 0.8 limit."""
    figure = go.Figure(
        [
            go.Scatter(
                x=[p["hour"] for p in points],
                y=[p["median"] for p in points],
                name="median completeness",
                mode="lines+markers" if len(points) < 60 else "lines",
                line={"color": TODAY},
                hovertemplate="%{y:.3f}<extra>median</extra>",
            )
        ],
        _layout(
            "Median sensor completeness per hour",
            xaxis={"type": "date", "range": list(x_range)},
            yaxis={"range": [0, 1.02], "title": "completeness"},
        ),
    )
    figure.add_hline(
        y=limit,
        line={"color": "#b42318", "dash": "dot", "width": 1},
        annotation_text=f"alert below {limit:g}",
        annotation_position="bottom left",
    )
    if not points:
        _empty(figure, "No hours computed yet")
    return _plain(figure)


def challenger_figure(entry: dict) -> dict:
    """Histogram overlay of a candidate and the production version on the same run."""
    shared = entry["histograms"]
    edges = [i / 20 for i in range(21)]
    centres = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    traces = []
    if shared:
        for name, counts, colour, pattern in (
            (entry["champion"], shared["champion"], BASELINE, "/"),
            (entry["candidate"], shared["candidate"], TODAY, ""),
        ):
            total = sum(counts) or 1
            traces.append(
                go.Bar(
                    x=centres,
                    y=[c / total for c in counts],
                    name=name,
                    marker={"color": colour, "pattern": {"shape": pattern}},
                    opacity=0.75,
                    hovertemplate=f"score %{{x:.3f}}: %{{y:.1%}}<extra>{name}</extra>",
                )
            )
    title = f"{entry['candidate']} ({entry['role']}) vs {entry['champion'] or 'no champion'}"
    figure = go.Figure(
        traces,
        _layout(
            title + (f" · run {shared['run_id']}" if shared else ""),
            barmode="overlay",
            xaxis={"title": "anomaly score", "range": [0, 1]},
            yaxis={"title": "share of devices", "tickformat": ".0%"},
        ),
    )
    if not traces:
        _empty(figure, "No run scored by both yet")
    return _plain(figure)
