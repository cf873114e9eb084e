"""Thin reads behind the infrastructure checks: job runs, the scoring run ledger, worker
pings and broker queue lengths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q

from monitoring.models import JobRun, JobStatus
from scoring.models import RunStatus, ScoringRun

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)
# Redis transport of kombu: with priorities, a queue is split into these sub-lists.
_PRIORITY_STEPS = (3, 6, 9)
_PRIORITY_SEP = "\x06\x16"


@dataclass(frozen=True)
class JobFacts:
    """What the job checks and the job-health table need about one task."""

    task_name: str
    last: JobRun  # the latest run, whatever its status
    last_finished: JobRun | None  # the latest succeeded or failed run
    last_success: JobRun | None
    previous_runtimes: list[float]  # successful runtimes before last_success, newest first
    last_beat: JobRun | None
    runs_24h: int
    failures_24h: int


def job_facts(*, now: datetime, lookback: timedelta, runtime_runs: int) -> list[JobFacts]:
    """One JobFacts per task that ran within `lookback`, by task name."""
    recent = JobRun.objects.filter(started_at__gte=now - lookback, started_at__lte=now)
    names = sorted(recent.order_by().values_list("task_name", flat=True).distinct())
    day = now - timedelta(hours=24)
    counts = {
        row["task_name"]: row
        for row in recent.filter(started_at__gte=day)
        .order_by()
        .values("task_name")
        .annotate(runs=Count("pk"), failures=Count("pk", filter=Q(status=JobStatus.FAILED)))
    }
    facts = []
    for name in names:
        runs = recent.filter(task_name=name).order_by("-started_at")
        successes = list(
            runs.filter(status=JobStatus.SUCCEEDED, runtime_seconds__isnull=False)[
                : runtime_runs + 1
            ]
        )
        facts.append(
            JobFacts(
                task_name=name,
                last=runs.first(),
                last_finished=runs.filter(status__in=FINISHED).first(),
                last_success=successes[0] if successes else None,
                previous_runtimes=[r.runtime_seconds for r in successes[1:]],
                last_beat=runs.filter(beat=True).first(),
                runs_24h=counts.get(name, {}).get("runs", 0),
                failures_24h=counts.get(name, {}).get("failures", 0),
            )
        )
    return facts


def worker_last_seen(*, now: datetime, since: timedelta) -> dict[str, datetime]:
    """Each worker that started a task within `since`, with its latest start."""
    rows = (
        JobRun.objects.filter(started_at__gte=now - since, started_at__lte=now)
        .exclude(worker="")
        .order_by()
        .values("worker")
        .annotate(last=Max("started_at"))
    )
    return {row["worker"]: row["last"] for row in rows}


def last_beat_start(*, now: datetime, since: timedelta) -> datetime | None:
    return (
        JobRun.objects.filter(beat=True, started_at__gte=now - since, started_at__lte=now)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )


def ping_workers(*, timeout: float) -> set[str]:
    """Node names of the workers that answer a broadcast ping (`celery inspect ping`)."""
    from fleetmon.celery import app

    replies = app.control.ping(timeout=timeout) or []
    return {name for reply in replies for name in reply}


def queue_depths(queues: tuple[str, ...] | list[str]) -> dict[str, int]:
    """Messages waiting per Celery queue on the Redis broker (LLEN, priority lists too)."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per = 1 + len(_PRIORITY_STEPS)
    return {q: sum(lengths[i * per : (i + 1) * per]) for i, q in enumerate(queues)}


# ---------------------------------------------------------------- the scoring run ledger

SCHEDULED_TRIGGERS = (ScoringRun.Trigger.HOURLY, ScoringRun.Trigger.DAILY)
COMPLETED = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


def hourly_latencies(*, now: datetime, since: timedelta) -> list[float]:
    """finished − window end, in seconds, of the hourly runs completed within `since`."""
    runs = ScoringRun.objects.filter(
        trigger=ScoringRun.Trigger.HOURLY,
        window_minutes=15,
        status__in=COMPLETED,
        finished_at__gte=now - since,
        finished_at__lte=now,
    ).values_list("finished_at", "window_end")
    return [(finished - end).total_seconds() for finished, end in runs]


def latest_completed_run(*, now: datetime) -> ScoringRun | None:
    """The latest completed scheduled run of 15-minute windows."""
    return (
        ScoringRun.objects.filter(
            trigger__in=SCHEDULED_TRIGGERS,
            window_minutes=15,
            device_id="",
            status__in=COMPLETED,
            finished_at__lte=now,
        )
        .order_by("-finished_at")
        .first()
    )
