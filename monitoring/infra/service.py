"""Run the infrastructure monitors (domain §5.1) and turn their findings into monitor
alerts: a finding raises (or refreshes) the alert of its monitor and subject, a passing
check clears it.

Who watches the watcher: these checks run in a Celery task sent by beat, so when beat or
every worker stops, no check runs at all. The ops dashboard therefore computes the
heartbeats itself, in the web process, on every view (monitoring.ops_dashboard).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from monitoring.infra import checks, readers
from monitoring.infra.checks import Finding
from monitoring.infra.config import knob
from monitoring.models import JobRun, MonitorAlert, MonitorLayer, MonitorStatus
from monitoring.monitors import monitor_clear, monitor_raise

logger = logging.getLogger(__name__)

# monitor -> (layer, runbook slug under docs/runbooks/)
MONITORS: dict[str, tuple[str, str]] = {
    "job_failed": (MonitorLayer.INFRASTRUCTURE, "job-failure"),
    "job_slow": (MonitorLayer.INFRASTRUCTURE, "job-runtime"),
    "job_delayed": (MonitorLayer.INFRASTRUCTURE, "job-schedule-delay"),
    "job_zero_rows": (MonitorLayer.INFRASTRUCTURE, "job-zero-rows"),
    "scoring_latency": (MonitorLayer.INFRASTRUCTURE, "scoring-performance"),
    "scoring_throughput": (MonitorLayer.INFRASTRUCTURE, "scoring-performance"),
    "worker_heartbeat": (MonitorLayer.INFRASTRUCTURE, "celery-heartbeat"),
    "beat_heartbeat": (MonitorLayer.INFRASTRUCTURE, "celery-heartbeat"),
    "queue_depth": (MonitorLayer.INFRASTRUCTURE, "queue-backlog"),
    "dataset_stale": (MonitorLayer.INFRASTRUCTURE, "pipeline-stall"),
    "pipeline_late": (MonitorLayer.INFRASTRUCTURE, "pipeline-stall"),
    "fleet_dropout": (MonitorLayer.DATA, "fleet-dropout"),
    "sla_breach": (MonitorLayer.SLA, "sla-breach"),
}
JOB_MONITORS = ("job_failed", "job_slow", "job_delayed", "job_zero_rows")
HEARTBEAT_LOOKBACK = timedelta(hours=24)


def settle(
    monitor: str,
    results: dict[str, Finding | None],
    *,
    now: datetime,
    clear_missing: bool = False,
) -> dict[str, int]:
    """Raise each subject's finding, clear each passing subject; with `clear_missing`, also
    clear open alerts of subjects no longer checked (a job that stopped running)."""
    layer, runbook = MONITORS[monitor]
    raised = cleared = 0
    for subject, finding in results.items():
        if finding is None:
            cleared += monitor_clear(monitor=monitor, subject=subject, now=now)
            continue
        monitor_raise(
            monitor=monitor,
            layer=layer,
            subject=subject,
            severity=finding.severity,
            title=finding.title,
            description=finding.description,
            evidence=finding.evidence,
            runbook=runbook,
            now=now,
        )
        raised += 1
    if clear_missing:
        gone = MonitorAlert.objects.filter(monitor=monitor, status=MonitorStatus.OPEN).exclude(
            subject__in=list(results)
        )
        for subject in gone.values_list("subject", flat=True):
            cleared += monitor_clear(monitor=monitor, subject=subject, now=now)
    return {"raised": raised, "cleared": cleared}


# ---------------------------------------------------------------- job checks


def job_findings(facts: readers.JobFacts) -> dict[str, Finding | None]:
    """monitor -> finding for one task's recent runs."""
    finished, success, beat = facts.last_finished, facts.last_success, facts.last_beat
    findings = {
        "job_failed": finished
        and checks.job_failure(
            facts.task_name, status=finished.status, error=finished.error, at=finished.started_at
        ),
        "job_slow": success
        and checks.job_runtime(
            facts.task_name,
            runtime=success.runtime_seconds,
            previous=facts.previous_runtimes[: knob("FLEETMON_JOB_RUNTIME_RUNS")],
            factor=knob("FLEETMON_JOB_RUNTIME_FACTOR"),
            min_runs=knob("FLEETMON_JOB_RUNTIME_MIN_RUNS"),
        ),
        "job_delayed": beat
        and checks.job_delay(
            facts.task_name,
            delay_seconds=beat.delay_seconds,
            limit_minutes=knob("FLEETMON_JOB_DELAY_MINUTES"),
        ),
        # Judged on the latest finished run: a failure after an empty run replaces it.
        "job_zero_rows": success
        and finished
        and finished.pk == success.pk
        and checks.job_zero_rows(
            facts.task_name,
            rows=success.rows,
            expected=facts.task_name in knob("FLEETMON_JOBS_EXPECTING_ROWS"),
        ),
    }
    return {monitor: finding or None for monitor, finding in findings.items()}


def jobs_facts(*, now: datetime) -> list[readers.JobFacts]:
    return readers.job_facts(
        now=now,
        lookback=timedelta(days=knob("FLEETMON_JOB_LOOKBACK_DAYS")),
        runtime_runs=knob("FLEETMON_JOB_RUNTIME_RUNS"),
    )


def jobs_check(*, now: datetime) -> dict[str, dict[str, Finding | None]]:
    """monitor -> task -> finding, over every task that ran within the look-back."""
    per_monitor: dict[str, dict[str, Finding | None]] = {m: {} for m in JOB_MONITORS}
    for facts in jobs_facts(now=now):
        for monitor, finding in job_findings(facts).items():
            per_monitor[monitor][facts.task_name] = finding
    return per_monitor


# ---------------------------------------------------------------- scoring, heartbeats, queues


def scoring_check(*, now: datetime) -> dict[str, dict[str, Finding | None]]:
    latencies = readers.hourly_latencies(now=now, since=timedelta(hours=24))
    run = readers.latest_completed_run(now=now)
    seconds = (run.finished_at - run.started_at).total_seconds() if run and run.started_at else None
    return {
        "scoring_latency": {
            "hourly": checks.scoring_latency(
                latencies, limit_minutes=knob("FLEETMON_SCORING_LATENCY_P95_MINUTES")
            )
        },
        "scoring_throughput": {
            "batch": checks.scoring_throughput(
                devices=run.devices_scored if run else 0,
                seconds=seconds,
                min_per_minute=knob("FLEETMON_SCORING_MIN_DEVICES_PER_MINUTE"),
                min_seconds=knob("FLEETMON_SCORING_THROUGHPUT_MIN_SECONDS"),
            )
        },
    }


def heartbeat_check(
    *, now: datetime, ping: Callable[[], set[str]]
) -> dict[str, dict[str, Finding | None]]:
    known = readers.worker_last_seen(now=now, since=HEARTBEAT_LOOKBACK)
    return {
        "worker_heartbeat": checks.worker_heartbeats(known, ping()),
        "beat_heartbeat": {
            "beat": checks.beat_heartbeat(
                last_beat_start=readers.last_beat_start(now=now, since=HEARTBEAT_LOOKBACK),
                now=now,
                max_age_seconds=knob("FLEETMON_BEAT_HEARTBEAT_SECONDS"),
            )
        },
    }


def queue_check(*, depths: dict[str, int]) -> dict[str, dict[str, Finding | None]]:
    limit = knob("FLEETMON_QUEUE_DEPTH_MAX")
    return {
        "queue_depth": {
            queue: checks.queue_depth(queue, depth=depth, limit=limit)
            for queue, depth in depths.items()
        }
    }


def _ping() -> set[str]:
    return readers.ping_workers(timeout=knob("FLEETMON_WORKER_PING_TIMEOUT_SECONDS"))


def _depths() -> dict[str, int]:
    return readers.queue_depths(tuple(knob("FLEETMON_MONITOR_QUEUES")))


def infra_check(
    *,
    now: datetime,
    ping: Callable[[], set[str]] = _ping,
    depths: Callable[[], dict[str, int]] = _depths,
) -> dict[str, int]:
    """Every infrastructure monitor once: raise what fails, clear what passes.

    `ping` and `depths` are the two reads outside the database (worker ping, broker queue
    lengths); tests pass stand-ins to cross the thresholds exactly.
    """
    results = {
        **jobs_check(now=now),
        **scoring_check(now=now),
        **heartbeat_check(now=now, ping=ping),
        **queue_check(depths=depths()),
    }
    # "rows" (monitoring.jobs convention): the checks made, one per monitor and subject.
    totals = {"rows": sum(len(per) for per in results.values()), "raised": 0, "cleared": 0}
    for monitor, per_subject in results.items():
        outcome = settle(
            monitor,
            per_subject,
            now=now,
            clear_missing=monitor in JOB_MONITORS or monitor == "worker_heartbeat",
        )
        totals["raised"] += outcome["raised"]
        totals["cleared"] += outcome["cleared"]
    totals["pruned"] = job_runs_prune(now=now)
    logger.info("infrastructure monitors: %s", totals)
    return totals


def job_runs_prune(*, now: datetime) -> int:
    cutoff = now - timedelta(days=knob("FLEETMON_JOB_RUN_RETENTION_DAYS"))
    deleted, _ = JobRun.objects.filter(started_at__lt=cutoff).delete()
    return deleted
