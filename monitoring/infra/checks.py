"""The infrastructure checks of domain §5.1 as small functions over plain values.

Each returns a Finding (the monitor should fire, with what severity and evidence) or None
(the check passes). Readers fetch the values (monitoring.infra.readers); the runner raises
and clears (monitoring.infra.service). Every limit is exclusive: a value *at* a limit
passes (runtime exactly 2x the median is not "> 2x").
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    severity: str
    title: str
    description: str = ""
    evidence: dict = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest observed value with q % of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


# ---------------------------------------------------------------- job runs


def job_failure(task: str, *, status: str, error: str, at: datetime) -> Finding | None:
    """The task's latest finished run failed."""
    if status != "failed":
        return None
    first_line = (error or "no error text").splitlines()[0][:200]
    return Finding(
        "MEDIUM",
        f"Job {task} failed",
        f"The latest run, started {at:%Y-%m-%d %H:%M:%S} UTC, failed: {first_line}",
        {"started_at": at.isoformat(), "error": (error or "")[:1000]},
    )


def job_runtime(
    task: str, *, runtime: float | None, previous: list[float], factor: float, min_runs: int
) -> Finding | None:
    """The latest successful runtime is more than `factor` x the median of the successful
    runs before it; needs `min_runs` of them to judge."""
    if runtime is None or len(previous) < min_runs:
        return None
    median = statistics.median(previous)
    if runtime <= factor * median:
        return None
    return Finding(
        "LOW",
        f"Job {task} ran {runtime / median:.1f}x its median time",
        f"{runtime:.1f} s against a median of {median:.1f} s over the {len(previous)} "
        f"successful runs before it (limit {factor:g}x).",
        {"runtime_seconds": runtime, "median_seconds": median, "runs": len(previous)},
    )


def job_delay(task: str, *, delay_seconds: float | None, limit_minutes: float) -> Finding | None:
    """The latest beat-sent run started more than `limit_minutes` after it was due."""
    if delay_seconds is None or delay_seconds <= limit_minutes * 60:
        return None
    return Finding(
        "MEDIUM",
        f"Job {task} started {_minutes(delay_seconds)} late",
        f"The latest scheduled run started {_minutes(delay_seconds)} after its due time "
        f"(limit {limit_minutes:g} min): beat or the workers are behind.",
        {"delay_seconds": delay_seconds, "limit_seconds": limit_minutes * 60},
    )


def job_zero_rows(task: str, *, rows: int | None, expected: bool) -> Finding | None:
    """The latest successful run of a task that always has output wrote nothing."""
    if not expected or rows != 0:
        return None
    return Finding(
        "MEDIUM",
        f"Job {task} wrote zero rows",
        "The latest run succeeded but reported no output, where output is always expected.",
        {"rows": 0},
    )


# ---------------------------------------------------------------- scoring performance


def scoring_latency(latencies: list[float], *, limit_minutes: float) -> Finding | None:
    """p95 of (run finished − window end) over recent hourly runs above the limit."""
    p95 = percentile(latencies, 95)
    if p95 is None or p95 <= limit_minutes * 60:
        return None
    return Finding(
        "MEDIUM",
        f"Hourly scoring latency p95 is {_minutes(p95)}",
        f"Runs finish {_minutes(p95)} after their window closes at the 95th percentile "
        f"(limit {limit_minutes:g} min).",
        {
            "p50_seconds": percentile(latencies, 50),
            "p95_seconds": p95,
            "p99_seconds": percentile(latencies, 99),
            "runs": len(latencies),
        },
    )


def scoring_throughput(
    *, devices: int, seconds: float | None, min_per_minute: float, min_seconds: float
) -> Finding | None:
    """The latest run scored fewer than `min_per_minute` devices a minute.

    A run shorter than `min_seconds` is not judged: it was quick, whatever its rate (a small
    fleet spends its short runs on fixed overheads).
    """
    if seconds is None or seconds < min_seconds or seconds <= 0:
        return None
    rate = devices / (seconds / 60)
    if rate >= min_per_minute:
        return None
    return Finding(
        "MEDIUM",
        f"Scoring throughput {rate:,.0f} devices/min",
        f"The latest run scored {devices} devices in {seconds:.0f} s "
        f"(minimum {min_per_minute:,.0f} devices/min).",
        {"devices": devices, "seconds": seconds, "devices_per_minute": rate},
    )


# ---------------------------------------------------------------- heartbeats and queues


def _answers(worker: str, answering: set[str]) -> bool:
    """Celery names a task's worker by node name (celery@host) or, on some execution paths,
    by host name only: a bare host matches any node on that host."""
    if worker in answering:
        return True
    host = worker.rpartition("@")[2]
    return any(
        name.rpartition("@")[2] == host
        for name in answering
        if "@" not in worker or "@" not in name
    )


def worker_heartbeats(known: dict[str, datetime], answering: set[str]) -> dict[str, Finding | None]:
    """Per worker seen running tasks lately: does it still answer a ping? With nobody
    answering at all, one HIGH finding about "workers" (no task can run)."""
    results: dict[str, Finding | None] = {
        "workers": None
        if answering
        else Finding(
            "HIGH",
            "No Celery worker answers",
            "No worker answered a ping: scheduled jobs, scoring and alerts are not running.",
            {"known": sorted(known)},
        )
    }
    for worker, last_seen in known.items():
        results[worker] = (
            None
            if not answering or _answers(worker, answering)
            else Finding(
                "MEDIUM",
                f"Worker {worker} does not answer",
                f"It last ran a task at {last_seen:%Y-%m-%d %H:%M:%S} UTC; the other "
                "workers carry its load.",
                {"last_seen_at": last_seen.isoformat(), "answering": sorted(answering)},
            )
        )
    return results


def beat_heartbeat(
    *, last_beat_start: datetime | None, now: datetime, max_age_seconds: float
) -> Finding | None:
    """No beat-sent task has started for longer than `max_age_seconds`."""
    if last_beat_start is not None and (now - last_beat_start).total_seconds() <= max_age_seconds:
        return None
    since = "never (in the look-back)" if last_beat_start is None else f"{last_beat_start:%H:%M:%S}"
    return Finding(
        "HIGH",
        "Celery beat is silent",
        f"The last task beat sent started {since} (limit {max_age_seconds:g} s): nothing "
        "scheduled runs, so freshness decays everywhere.",
        {"last_beat_start": last_beat_start.isoformat() if last_beat_start else None},
    )


def queue_depth(queue: str, *, depth: int, limit: int) -> Finding | None:
    if depth <= limit:
        return None
    return Finding(
        "MEDIUM",
        f"Queue {queue} holds {depth} tasks",
        f"{depth} messages wait in the {queue!r} queue (limit {limit}): the workers fall behind.",
        {"depth": depth, "limit": limit},
    )
