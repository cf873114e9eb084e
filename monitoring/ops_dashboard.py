"""The operations / on-call dashboard (domain §5.5, §3.6): what the page and its JSON API
show, read with `now` passed in, and its plotly figures (pure: data in, figure JSON out).

Heartbeats and job health are computed here from the job runs on every view, in the web
process: when beat or every worker stops, the monitor task stops too, and only this page
can still tell.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta

import plotly.graph_objects as go
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count

from alerts.models import ACTIVE_STATUSES, SEVERITY_RANK, DeviceAlert
from alerts.runbook_map import runbook_title
from fleetmon.registry.models import Device, DropoutState
from monitoring import freshness
from monitoring.infra import checks, readers
from monitoring.infra.config import knob
from monitoring.infra.service import HEARTBEAT_LOOKBACK, job_findings, jobs_facts
from monitoring.models import FreshnessCheck, MonitorAlert, MonitorStatus, SlaMeasurement
from monitoring.sla import SLAS, format_value
from quality.models import DeadLetterSensorReading, QuarantineSensorReading

SEVERITY_COLOURS = {"CRITICAL": "#b42318", "HIGH": "#b54708", "MEDIUM": "#854d0e", "LOW": "#175cd3"}
READINGS_HOURS = 48
HEATMAP_HOURS = 24
SLA_HISTORY_DAYS = 30
SLA_HISTORY_POINTS = 240
FRESHNESS_STORED_MAX_AGE = timedelta(minutes=5)
_ORIGIN = "TIMESTAMPTZ '2000-01-01'"


def _plain(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def _layout(title: str, **extra) -> go.Layout:
    return go.Layout(
        title={"text": title, "x": 0},
        height=300,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        **extra,
    )


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------- job health


def _short(task_name: str) -> str:
    return task_name.rsplit(".", 1)[-1]


def job_health(*, now: datetime) -> list[dict]:
    """One row per task that ran in the look-back, plus beat entries that never ran:
    state red (latest run failed), amber (slow, late, empty or retried), green, or grey
    (no run recorded)."""
    rows = []
    seen = set()
    for facts in jobs_facts(now=now):
        seen.add(facts.task_name)
        findings = job_findings(facts)
        last, success = facts.last, facts.last_success
        median = None
        if len(facts.previous_runtimes) >= knob("FLEETMON_JOB_RUNTIME_MIN_RUNS"):
            median = statistics.median(facts.previous_runtimes[: knob("FLEETMON_JOB_RUNTIME_RUNS")])
        if findings["job_failed"]:
            state = "red"
        elif any(findings.values()) or last.status == "retried":
            state = "amber"
        else:
            state = "green"
        failed = facts.last_finished if facts.last_finished and findings["job_failed"] else None
        rows.append(
            {
                "task_name": facts.task_name,
                "task": _short(facts.task_name),
                "state": state,
                "last_started_at": last.started_at,
                "last_status": last.status,
                "runtime_seconds": success.runtime_seconds if success else None,
                "median_seconds": median,
                "runtime_ratio": (
                    success.runtime_seconds / median
                    if success and median and success.runtime_seconds is not None
                    else None
                ),
                "delay_seconds": facts.last_beat.delay_seconds if facts.last_beat else None,
                "rows": success.rows if success else None,
                "runs_24h": facts.runs_24h,
                "failures_24h": facts.failures_24h,
                "error": (failed.error.splitlines() or [""])[0][:300] if failed else "",
                "findings": [f.title for f in findings.values() if f],
            }
        )
    for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values():
        name = entry.get("task", "")
        if name and name not in seen:
            seen.add(name)
            rows.append(
                {
                    "task_name": name,
                    "task": _short(name),
                    "state": "grey",
                    "last_started_at": None,
                    "last_status": "",
                    "runtime_seconds": None,
                    "median_seconds": None,
                    "runtime_ratio": None,
                    "delay_seconds": None,
                    "rows": None,
                    "runs_24h": 0,
                    "failures_24h": 0,
                    "error": "",
                    "findings": ["no run recorded"],
                }
            )
    order = {"red": 0, "amber": 1, "grey": 2, "green": 3}
    return sorted(rows, key=lambda r: (order[r["state"]], r["task"]))


def heartbeats(*, now: datetime) -> dict:
    """Workers (last task start each) and beat (last beat-sent start), judged on age."""
    beat_limit = knob("FLEETMON_BEAT_HEARTBEAT_SECONDS")
    last_beat = readers.last_beat_start(now=now, since=HEARTBEAT_LOOKBACK)
    silent = checks.beat_heartbeat(last_beat_start=last_beat, now=now, max_age_seconds=beat_limit)
    workers = readers.worker_last_seen(now=now, since=HEARTBEAT_LOOKBACK)
    return {
        "beat": {
            "last_seen_at": last_beat,
            "age_seconds": (now - last_beat).total_seconds() if last_beat else None,
            "ok": silent is None,
            "limit_seconds": beat_limit,
        },
        "workers": [
            {
                "name": name,
                "last_seen_at": at,
                "age_seconds": (now - at).total_seconds(),
                # Without a ping from the web process: a worker that ran nothing for
                # longer than beat's limit looks idle or gone.
                "ok": (now - at).total_seconds() <= beat_limit,
            }
            for name, at in sorted(workers.items())
        ],
    }


def queue_depths() -> list[dict]:
    limit = knob("FLEETMON_QUEUE_DEPTH_MAX")
    queues = tuple(knob("FLEETMON_MONITOR_QUEUES"))
    try:
        depths = readers.queue_depths(queues)
    except Exception:  # noqa: BLE001 - the page still renders without the broker
        return [{"queue": q, "depth": None, "limit": limit, "ok": None} for q in queues]
    return [{"queue": q, "depth": d, "limit": limit, "ok": d <= limit} for q, d in depths.items()]


def scoring_performance(*, now: datetime) -> dict:
    latencies = readers.hourly_latencies(now=now, since=timedelta(hours=24))
    run = readers.latest_completed_run(now=now)
    seconds = (run.finished_at - run.started_at).total_seconds() if run and run.started_at else None
    return {
        "runs_24h": len(latencies),
        "latency_p50_seconds": checks.percentile(latencies, 50),
        "latency_p95_seconds": checks.percentile(latencies, 95),
        "latency_p99_seconds": checks.percentile(latencies, 99),
        "latency_limit_seconds": knob("FLEETMON_SCORING_LATENCY_P95_MINUTES") * 60,
        "latest_run_id": run.pk if run else None,
        "latest_devices": run.devices_scored if run else None,
        "latest_seconds": seconds,
        "latest_devices_per_minute": (
            run.devices_scored / (seconds / 60) if run and seconds else None
        ),
        "min_devices_per_minute": knob("FLEETMON_SCORING_MIN_DEVICES_PER_MINUTE"),
    }


# ---------------------------------------------------------------- freshness


def freshness_now(*, now: datetime) -> dict:
    """The latest stored check per dataset when the monitor ran lately, else read live."""
    latest = FreshnessCheck.objects.filter(checked_at__lte=now).order_by("-checked_at").first()
    if latest and now - latest.checked_at <= FRESHNESS_STORED_MAX_AGE:
        checked_at, live = latest.checked_at, False
        stored = {c.dataset: c for c in FreshnessCheck.objects.filter(checked_at=checked_at)}
        states = {
            name: {
                "lateness_seconds": c.lateness_seconds,
                "rows": c.rows,
                "latest_at": c.latest_at,
                "fresh": c.fresh,
                "severity": c.severity,
            }
            for name, c in stored.items()
        }
    else:
        checked_at, live = now, True
        readings = {d.name: freshness.dataset_reading(d, now=now) for d in freshness.DATASETS}
        findings = freshness.freshness_findings(readings, dropout=0)["dataset_stale"]
        states = {
            name: {
                "lateness_seconds": r.lateness.total_seconds() if r.lateness is not None else None,
                "rows": r.rows,
                "latest_at": r.latest_at,
                "fresh": findings[name] is None,
                "severity": findings[name].severity if findings[name] else "",
            }
            for name, r in readings.items()
        }
    datasets = []
    for d in freshness.DATASETS:
        state = states.get(d.name)
        datasets.append(
            {
                "dataset": d.name,
                "label": d.label,
                "sla_seconds": d.sla.total_seconds(),
                **(
                    state
                    or {
                        "lateness_seconds": None,
                        "rows": None,
                        "latest_at": None,
                        "fresh": None,
                        "severity": "",
                    }
                ),
            }
        )
    return {"checked_at": checked_at, "live": live, "datasets": datasets}


def freshness_heatmap(*, now: datetime, hours: int = HEATMAP_HOURS) -> dict:
    """Worst severity rank per dataset and hour (0 fresh, 1 LOW .. 4 CRITICAL; None: no
    check that hour), oldest hour first."""
    start = _hour(now) - timedelta(hours=hours - 1)
    rank = " ".join(f"WHEN '{s}' THEN {r}" for s, r in SEVERITY_RANK.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT dataset, date_bin('1 hour', checked_at, {_ORIGIN}) AS hour,
                       max(CASE severity {rank} ELSE 0 END),
                       max(lateness_seconds)
                FROM freshness_checks
                WHERE checked_at >= %(start)s AND checked_at <= %(now)s
                GROUP BY 1, 2""",
            {"start": start, "now": now},
        )
        cells = {(ds, hour): (worst, late) for ds, hour, worst, late in cursor.fetchall()}
    hours_list = [start + timedelta(hours=i) for i in range(hours)]
    rows = []
    for d in freshness.DATASETS:
        ranks = [cells.get((d.name, h), (None, None)) for h in hours_list]
        rows.append(
            {
                "dataset": d.name,
                "label": d.label,
                "ranks": [r for r, _ in ranks],
                "max_lateness_seconds": [late for _, late in ranks],
            }
        )
    return {"hours": hours_list, "rows": rows}


def freshness_heatmap_figure(heatmap: dict) -> dict:
    # Discrete bands: green fresh, yellow LOW, orange MEDIUM, red HIGH/CRITICAL.
    scale = [
        [0.0, "#067647"],
        [0.125, "#067647"],
        [0.125, "#f5d90a"],
        [0.375, "#f5d90a"],
        [0.375, "#e67e22"],
        [0.625, "#e67e22"],
        [0.625, "#b42318"],
        [1.0, "#7a1010"],
    ]
    labels = {0: "fresh", 1: "LOW", 2: "MEDIUM", 3: "HIGH", 4: "CRITICAL", None: "no check"}
    text = [
        [
            labels[r] + (f" · {late / 60:.0f} min late" if late else "")
            for r, late in zip(row["ranks"], row["max_lateness_seconds"], strict=True)
        ]
        for row in heatmap["rows"]
    ]
    figure = go.Figure(
        go.Heatmap(
            z=[row["ranks"] for row in heatmap["rows"]],
            x=heatmap["hours"],
            y=[row["label"] for row in heatmap["rows"]],
            text=text,
            hovertemplate="%{y} · %{x|%H:00}: %{text}<extra></extra>",
            zmin=0,
            zmax=4,
            colorscale=scale,
            xgap=2,
            ygap=2,
            colorbar={
                "tickvals": [0, 1, 2, 3, 4],
                "ticktext": ["fresh", "LOW", "MEDIUM", "HIGH", "CRIT"],
                "thickness": 12,
            },
        ),
        _layout(
            f"Freshness, worst state per hour · last {len(heatmap['hours'])} h",
            yaxis={"autorange": "reversed"},
            xaxis={"type": "date"},
        ),
    )
    return _plain(figure)


# ---------------------------------------------------------------- fleet and data


def equipment_alerts() -> dict:
    """Active CRITICAL and HIGH equipment alerts (suppressed duplicates are not counted)."""
    counts = dict(
        DeviceAlert.objects.filter(
            status__in=ACTIVE_STATUSES, suppressed=False, severity__in=("CRITICAL", "HIGH")
        )
        .order_by()
        .values_list("severity")
        .annotate(n=Count("pk"))
    )
    return {"CRITICAL": counts.get("CRITICAL", 0), "HIGH": counts.get("HIGH", 0)}


def _count_hours(start: datetime, end: datetime) -> dict[datetime, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT date_bin('1 hour', timestamp_utc, {_ORIGIN}), count(*)
                FROM clean_sensor_readings
                WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
                GROUP BY 1""",
            {"start": start, "end": end},
        )
        return dict(cursor.fetchall())


def readings_per_hour(*, now: datetime, hours: int = READINGS_HOURS) -> list[dict]:
    """Clean readings per hour over the last `hours` hours, the current one partial.

    Closed hours are cached for 10 minutes (late data still lands in them), so a refresh
    every minute counts one hour of readings, not 48.
    """
    current = _hour(now)
    start = current - timedelta(hours=hours - 1)
    key = f"ops:readings-per-hour:{start.isoformat()}"
    closed = cache.get(key)
    if closed is None:
        closed = _count_hours(start, current)
        cache.set(key, closed, 600)
    live = _count_hours(current, now + timedelta(microseconds=1))
    counts = {**closed, **live}
    return [
        {"hour": start + timedelta(hours=i), "readings": counts.get(start + timedelta(hours=i), 0)}
        for i in range(hours)
    ]


def readings_figure(series: list[dict]) -> dict:
    figure = go.Figure(
        go.Bar(
            x=[p["hour"] for p in series],
            y=[p["readings"] for p in series],
            marker={"color": "#0072B2"},
            hovertemplate="%{x|%d %b %H:00}: %{y:,} readings<extra></extra>",
        ),
        _layout(
            f"Clean readings per hour · last {len(series)} h",
            yaxis={"title": "readings", "rangemode": "tozero"},
            xaxis={"type": "date"},
        ),
    )
    return _plain(figure)


def dropout_counts() -> dict:
    counts = dict(
        Device.objects.filter(is_active=True)
        .order_by()
        .values_list("dropout_state")
        .annotate(n=Count("pk"))
    )
    by_state = {s.value: counts.get(s.value, 0) for s in DropoutState}
    return {
        "by_state": by_state,
        "full_dropout": by_state[DropoutState.FULL_DROPOUT],
        "slack_above": knob("FLEETMON_DROPOUT_SLACK_DEVICES"),
        "page_above": knob("FLEETMON_DROPOUT_PAGE_DEVICES"),
    }


def quarantine_volume(*, now: datetime, readings: list[dict]) -> dict:
    """Quarantined and dead-lettered rows ingested in 24 h, and their share of all rows
    (clean from the hourly counts; §3.6 alarms above 1 %)."""
    day = now - timedelta(hours=24)

    def ingested(model) -> int:
        # timestamp_utc bounds the chunks scanned; ingestion time decides.
        return model.objects.filter(
            timestamp_utc__gte=day - timedelta(hours=24), timestamp_ingested__gte=day
        ).count()

    quarantined = ingested(QuarantineSensorReading)
    dead = ingested(DeadLetterSensorReading)
    clean = sum(p["readings"] for p in readings if p["hour"] >= _hour(day))
    total = clean + quarantined + dead
    share = (quarantined + dead) / total if total else None
    return {
        "quarantined_24h": quarantined,
        "dead_lettered_24h": dead,
        "clean_24h": clean,
        "share": share,
        "alarm": share is not None and share > 0.01,
    }


# ---------------------------------------------------------------- monitor alerts and SLAs


def open_monitor_alerts(*, limit: int = 100) -> list[MonitorAlert]:
    alerts = list(MonitorAlert.objects.filter(status=MonitorStatus.OPEN)[:limit])
    alerts.sort(key=lambda a: (-SEVERITY_RANK[a.severity], -a.last_seen_at.timestamp()))
    return alerts


def runbook_link(slug: str) -> dict | None:
    if not slug:
        return None
    return {"slug": slug, "url": f"/runbooks/{slug}/", "title": runbook_title(slug)}


def _thin(points: list[SlaMeasurement], *, days: int) -> list[dict]:
    """At most about SLA_HISTORY_POINTS points: the last measurement of each time bucket,
    marked breached when any measurement in the bucket was."""
    bucket = max(15 * 60, days * 86400 // SLA_HISTORY_POINTS)
    kept: dict[int, dict] = {}
    for p in points:
        key = int(p.window_end.timestamp()) // bucket
        breached = p.met is False or (key in kept and kept[key]["met"] is False)
        kept[key] = {"at": p.window_end, "value": p.value, "met": False if breached else p.met}
    return list(kept.values())


def sla_table(*, now: datetime, days: int = SLA_HISTORY_DAYS) -> list[dict]:
    """Per SLA: its definition, the latest measurement and the history over `days`."""
    since = now - timedelta(days=days)
    history: dict[str, list[SlaMeasurement]] = {key: [] for key in SLAS}
    for m in SlaMeasurement.objects.filter(window_end__gte=since, window_end__lte=now).order_by(
        "window_end"
    ):
        if m.sla in history:
            history[m.sla].append(m)
    rows = []
    for key, sla in SLAS.items():
        points = history[key]
        latest = points[-1] if points else None
        rows.append(
            {
                "sla": key,
                "title": sla.title,
                "method": sla.method,
                "unit": sla.unit,
                "target": sla.target,
                "target_text": ("< " if sla.below else "≥ ") + format_value(sla.target, sla),
                "value": latest.value if latest else None,
                "value_text": format_value(latest.value, sla) if latest else "not measured",
                "met": latest.met if latest else None,
                "measured_at": latest.window_end if latest else None,
                "details": latest.details if latest else {},
                "history": _thin(points, days=days),
            }
        )
    return rows


def sla_sparkline(row: dict) -> dict:
    """A small line of the SLA's value over its history, the target dashed."""
    scale = 100 if row["unit"] == "ratio" else 1 / 60
    unit = "%" if row["unit"] == "ratio" else "min"
    points = [p for p in row["history"] if p["value"] is not None]
    figure = go.Figure(
        go.Scatter(
            x=[p["at"] for p in points],
            y=[p["value"] * scale for p in points],
            mode="lines",
            line={"color": "#0072B2", "width": 1.5},
            hovertemplate=f"%{{x|%d %b %H:%M}}: %{{y:.2f}} {unit}<extra></extra>",
        ),
        go.Layout(
            height=60,
            width=220,
            margin={"l": 4, "r": 4, "t": 4, "b": 4},
            xaxis={"visible": False},
            yaxis={"visible": False},
            showlegend=False,
            paper_bgcolor="#fff",
            plot_bgcolor="#fff",
        ),
    )
    figure.add_hline(y=row["target"] * scale, line={"color": "#b42318", "dash": "dot", "width": 1})
    return _plain(figure)


# ---------------------------------------------------------------- the whole page


def ops_overview(*, now: datetime) -> dict:
    """Everything the page and GET /api/v1/monitoring/ops/ show."""
    readings = readings_per_hour(now=now)
    return {
        "generated_at": now,
        "jobs": job_health(now=now),
        "heartbeats": heartbeats(now=now),
        "queues": queue_depths(),
        "scoring": scoring_performance(now=now),
        "freshness": freshness_now(now=now),
        "freshness_heatmap": freshness_heatmap(now=now),
        "equipment_alerts": equipment_alerts(),
        "readings_per_hour": readings,
        "dropout": dropout_counts(),
        "quarantine": quarantine_volume(now=now, readings=readings),
        "monitor_alerts": open_monitor_alerts(),
        "slas": sla_table(now=now),
    }
