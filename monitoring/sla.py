"""The five system SLAs of the seed page, measured over rolling windows from recorded facts,
stored as history (SlaMeasurement) and raised as `sla_breach` monitor alerts while breached.

- batch_latency, < 2 h over 24 h: p95 of `alert_created_at − window_end` over the batch
  and fallback alerts created in the window. A batch alert's contributing readings are
  those of its scored window, and `window_end` bounds them.
- streaming_latency, < 2 min over 24 h: p95 of `alert_created_at − first_detected_at` over
  streaming CRITICAL alerts; `first_detected_at` is the firing reading's `timestamp_utc`,
  so this is the stream's watermark lag at the alert.
- scoring_availability, ≥ 99.5 % over 30 days: successful scheduled scoring runs /
  scheduled scoring runs (below).
- device_coverage, ≥ 99 % per run over 24 h: the lowest, over the scheduled runs completed
  in the window, of devices scored / devices the run had to score (scored + skipped: the
  registry's active devices when the run started).
- false_positive_rate, < 20 % over 30 days (D9): HIGH+CRITICAL alerts now `false_positive`
  / all HIGH+CRITICAL alerts created in the window; suppressed duplicates (D6) are left
  out, nobody triages them.

Percentiles are nearest-rank (an observed value). A window with nothing to measure stores
a null value and counts as met for alerting (nothing is late when nothing happened).

Scheduled scoring runs are the firings of the CELERY_BEAT_SCHEDULE entries that send
`scheduled_scoring_task` (hourly and daily), within the window, except firings due in the
last 30 minutes (their run may still be going: the hourly latency limit) and firings before
the first scheduled run ever recorded (an install is not blamed for before it existed). A
firing is successful when a run of its trigger over 15-minute windows, created between the
firing and the entry's next firing, *succeeded*: partial runs (a model failed), failed runs
and missing runs count against availability.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.models import AlertStatus, DeviceAlert
from monitoring.infra.checks import Finding, percentile
from monitoring.infra.config import knob
from monitoring.jobs import celery_tz, due_times, is_crontab
from monitoring.models import SlaMeasurement
from scoring.models import RunStatus, ScoringRun

logger = logging.getLogger(__name__)

SCORING_TASK = "scoring.tasks.scheduled_scoring_task"
SEVERE = ("HIGH", "CRITICAL")


@dataclass(frozen=True)
class Sla:
    key: str
    title: str
    target: float
    below: bool  # True: the value must stay below the target; False: at or above it
    unit: str  # "seconds" or "ratio"
    method: str


SLAS = {
    s.key: s
    for s in (
        Sla(
            "batch_latency",
            "End-to-end latency (batch)",
            7200.0,
            True,
            "seconds",
            "p95 of alert_created_at − window_end of batch alerts, 24 h",
        ),
        Sla(
            "streaming_latency",
            "End-to-end latency (streaming)",
            120.0,
            True,
            "seconds",
            "p95 of alert_created_at − reading time of streaming CRITICAL alerts, 24 h",
        ),
        Sla(
            "scoring_availability",
            "Scoring availability",
            0.995,
            False,
            "ratio",
            "successful / scheduled scoring runs, 30 days",
        ),
        Sla(
            "device_coverage",
            "Device coverage",
            0.99,
            False,
            "ratio",
            "lowest scored / active devices of the runs in 24 h",
        ),
        Sla(
            "false_positive_rate",
            "False positive rate",
            0.20,
            True,
            "ratio",
            "false_positive / HIGH+CRITICAL alerts, 30 days",
        ),
    )
}


@dataclass(frozen=True)
class Measurement:
    sla: str
    window_start: datetime
    window_end: datetime
    value: float | None
    details: dict = field(default_factory=dict)

    @property
    def target(self) -> float:
        return SLAS[self.sla].target

    @property
    def met(self) -> bool | None:
        return meets(self.value, SLAS[self.sla])


# ---------------------------------------------------------------- pure


def meets(value: float | None, sla: Sla) -> bool | None:
    if value is None:
        return None
    return value < sla.target if sla.below else value >= sla.target


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def covered_slots(
    dues: dict[str, list[datetime]], runs: list[tuple[str, datetime]]
) -> set[tuple[str, datetime]]:
    """The firings (trigger, due) that a run answered: each run answers the last firing of
    its trigger at or before its creation. `dues` lists are sorted."""
    covered = set()
    for trigger, created_at in runs:
        times = dues.get(trigger, [])
        i = bisect.bisect_right(times, created_at)
        if i:
            covered.add((trigger, times[i - 1]))
    return covered


def availability(
    counted: list[tuple[str, datetime]], covered: set[tuple[str, datetime]]
) -> tuple[float | None, int, int]:
    """(successful / scheduled, successful, scheduled) over the counted firings."""
    successful = sum(1 for slot in counted if slot in covered)
    return ratio(successful, len(counted)), successful, len(counted)


def breach_finding(measurement: Measurement) -> Finding | None:
    sla = SLAS[measurement.sla]
    if measurement.met is not False:
        return None
    relation = "not below" if sla.below else "below"
    return Finding(
        "MEDIUM",
        f"SLA breached: {sla.title}",
        f"{format_value(measurement.value, sla)} is {relation} the target "
        f"{format_value(sla.target, sla)} ({sla.method}).",
        {
            "value": measurement.value,
            "target": sla.target,
            "window_start": measurement.window_start.isoformat(),
            "window_end": measurement.window_end.isoformat(),
            **measurement.details,
        },
    )


def format_value(value: float | None, sla: Sla) -> str:
    if value is None:
        return "no data"
    if sla.unit == "ratio":
        return f"{value * 100:.2f} %"
    if value >= 3 * 3600:
        return f"{value / 3600:.1f} h"
    if value >= 600:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


# ---------------------------------------------------------------- the five measurements


def _latency(sla: str, alerts, *, start: datetime, now: datetime, origin: str) -> Measurement:
    pairs = alerts.filter(alert_created_at__gte=start, alert_created_at__lte=now).values_list(
        "alert_created_at", origin
    )
    latencies = [(created - at).total_seconds() for created, at in pairs]
    target = SLAS[sla].target
    return Measurement(
        sla,
        start,
        now,
        percentile(latencies, 95),
        {
            "alerts": len(latencies),
            "p50_seconds": percentile(latencies, 50),
            "max_seconds": max(latencies, default=None),
            "over_target": sum(1 for x in latencies if x >= target),
        },
    )


def batch_latency(*, now: datetime) -> Measurement:
    start = now - timedelta(hours=knob("FLEETMON_SLA_LATENCY_WINDOW_HOURS"))
    alerts = DeviceAlert.objects.filter(
        source__in=(DeviceAlert.Source.BATCH, DeviceAlert.Source.FALLBACK),
        window_end__isnull=False,
    )
    return _latency("batch_latency", alerts, start=start, now=now, origin="window_end")


def streaming_latency(*, now: datetime) -> Measurement:
    start = now - timedelta(hours=knob("FLEETMON_SLA_LATENCY_WINDOW_HOURS"))
    alerts = DeviceAlert.objects.filter(source=DeviceAlert.Source.STREAMING, severity="CRITICAL")
    return _latency("streaming_latency", alerts, start=start, now=now, origin="first_detected_at")


def scoring_dues(schedule: dict, *, start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """trigger -> firings in [start, end) of the beat entries sending scheduled scoring."""
    dues: dict[str, list[datetime]] = {}
    for entry in schedule.values():
        if entry.get("task") != SCORING_TASK or not is_crontab(entry.get("schedule")):
            continue
        args = list(entry.get("args", ())) or [entry.get("kwargs", {}).get("trigger")]
        times = due_times(entry["schedule"], start, end, celery_tz())
        dues[args[0]] = sorted({*dues.get(args[0], []), *times})
    return dues


def scoring_availability(*, now: datetime, schedule: dict | None = None) -> Measurement:
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
    start = now - timedelta(days=knob("FLEETMON_SLA_AVAILABILITY_DAYS"))
    until = now - timedelta(minutes=knob("FLEETMON_SLA_AVAILABILITY_GRACE_MINUTES"))
    scheduled = ScoringRun.objects.filter(
        trigger__in=(ScoringRun.Trigger.HOURLY, ScoringRun.Trigger.DAILY),
        window_minutes=15,
        device_id="",
    )
    first = scheduled.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return Measurement("scoring_availability", start, now, None, {"scheduled": 0})
    # Firings from a day before the window: a run answers the last firing before it.
    dues = scoring_dues(schedule, start=start - timedelta(days=1), end=now)
    first_due = max((t for times in dues.values() for t in times if t <= first), default=first)
    runs = scheduled.filter(
        status=RunStatus.SUCCEEDED, created_at__gte=start - timedelta(days=1)
    ).values_list("trigger", "created_at")
    covered = covered_slots(dues, list(runs))
    counted = [
        (trigger, due)
        for trigger, times in dues.items()
        for due in times
        if max(start, first_due) <= due <= until
    ]
    value, successful, total = availability(counted, covered)
    missed = sorted(due for slot in counted if slot not in covered for due in [slot[1]])
    return Measurement(
        "scoring_availability",
        start,
        now,
        value,
        {
            "successful": successful,
            "scheduled": total,
            "missed_recent": [t.isoformat() for t in missed[-10:]],
        },
    )


def device_coverage(*, now: datetime) -> Measurement:
    start = now - timedelta(hours=knob("FLEETMON_SLA_COVERAGE_WINDOW_HOURS"))
    runs = list(
        ScoringRun.objects.filter(
            trigger__in=(ScoringRun.Trigger.HOURLY, ScoringRun.Trigger.DAILY),
            window_minutes=15,
            device_id="",
            status__in=(RunStatus.SUCCEEDED, RunStatus.PARTIAL),
            finished_at__gte=start,
            finished_at__lte=now,
        )
        .order_by("finished_at")
        .values("pk", "devices_scored", "devices_skipped")
    )
    per_run = [
        (r["pk"], ratio(r["devices_scored"], r["devices_scored"] + r["devices_skipped"]))
        for r in runs
    ]
    per_run = [(pk, c) for pk, c in per_run if c is not None]
    target = SLAS["device_coverage"].target
    worst = min(per_run, key=lambda x: x[1], default=None)
    return Measurement(
        "device_coverage",
        start,
        now,
        worst[1] if worst else None,
        {
            "runs": len(per_run),
            "runs_below_target": sum(1 for _, c in per_run if c < target),
            "worst_run": worst[0] if worst else None,
            "latest": per_run[-1][1] if per_run else None,
        },
    )


def false_positive_rate(*, now: datetime) -> Measurement:
    start = now - timedelta(days=knob("FLEETMON_SLA_FP_DAYS"))
    alerts = DeviceAlert.objects.filter(
        severity__in=SEVERE,
        suppressed=False,
        alert_created_at__gte=start,
        alert_created_at__lte=now,
    )
    total = alerts.count()
    false_positives = alerts.filter(status=AlertStatus.FALSE_POSITIVE).count()
    return Measurement(
        "false_positive_rate",
        start,
        now,
        ratio(false_positives, total),
        {"false_positives": false_positives, "alerts": total},
    )


MEASURES = {
    "batch_latency": batch_latency,
    "streaming_latency": streaming_latency,
    "scoring_availability": scoring_availability,
    "device_coverage": device_coverage,
    "false_positive_rate": false_positive_rate,
}


# ---------------------------------------------------------------- the run


def sla_measure(*, now: datetime) -> dict[str, int]:
    """Measure the five SLAs, store them, raise breaches and clear recoveries."""
    from monitoring.infra.service import settle

    measurements = [measure(now=now) for measure in MEASURES.values()]
    SlaMeasurement.objects.bulk_create(
        SlaMeasurement(
            sla=m.sla,
            measured_at=now,
            window_start=m.window_start,
            window_end=m.window_end,
            value=m.value,
            target=m.target,
            met=m.met,
            details=m.details,
        )
        for m in measurements
    )
    outcome = settle("sla_breach", {m.sla: breach_finding(m) for m in measurements}, now=now)
    cutoff = now - timedelta(days=knob("FLEETMON_SLA_RETENTION_DAYS"))
    SlaMeasurement.objects.filter(window_end__lt=cutoff).delete()
    breached = [m.sla for m in measurements if m.met is False]
    logger.info("SLAs measured; breached: %s", breached or "none")
    return {"written": len(measurements), "breached": len(breached), **outcome}
