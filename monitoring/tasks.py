"""Thin Celery shells around the monitoring services."""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from monitoring.models import TriggerStatus
from monitoring.services.drift import NothingToCompare, drift_compute
from scoring.services.features import window_floor

logger = logging.getLogger(__name__)


@shared_task(time_limit=15 * 60, soft_time_limit=14 * 60)
def drift_task(minutes: int = 60, window_end: str | None = None) -> dict | None:
    """Hourly (60-minute windows) or daily (1440): drift of the last closed window.

    `window_end` (ISO 8601) replays another window.
    """
    end = (
        datetime.fromisoformat(window_end) if window_end else window_floor(timezone.now(), minutes)
    )
    try:
        run = drift_compute(window_end=end, minutes=minutes)
    except NothingToCompare as exc:
        logger.warning("no drift run for %dm @ %s: %s", minutes, end.isoformat(), exc)
        return None
    return {
        "window_end": run.window_end.isoformat(),
        "metrics": run.metrics,
        "fleet_drifting": run.fleet_drifting,
        "fleet_suspect": run.fleet_suspect,
        "suspect_cohorts": list(run.suspect_cohorts),
    }


# ---------------------------------------------------------------- data and model layer (H7)


@shared_task(time_limit=20 * 60, soft_time_limit=19 * 60)
def data_quality_hourly_task(hour: str | None = None) -> dict:
    """Hourly, after the drift job: data quality of the last closed hour, training-serving
    skew of the production models, and the drift monitors. `hour` (ISO 8601, the start of
    an hour) replays one hour's figures without touching the monitors."""
    from monitoring.data_quality import data_quality_hour, drift_monitors_evaluate, last_closed_hour
    from monitoring.skew import skew_check

    now = timezone.now()
    if hour:
        result = data_quality_hour(hour=datetime.fromisoformat(hour), now=now, monitors=False)
        return {"hour": result.hour.isoformat(), "rows": result.rows, "readings": result.readings}
    result = data_quality_hour(hour=last_closed_hour(now), now=now)
    skew = skew_check(now=now)
    drift = drift_monitors_evaluate(now=now)
    return {
        "hour": result.hour.isoformat(),
        "rows": result.rows + len(skew),
        "readings": result.readings,
        "flagged": list(result.flagged),
        "skew_breaches": sum(r.breached for r in skew),
        "drift_monitors": drift,
    }


@shared_task(time_limit=30 * 60, soft_time_limit=29 * 60)
def data_quality_daily_task(day: str | None = None) -> dict:
    """Daily, just after midnight UTC: `data_quality_daily_summary` of yesterday (or `day`)."""
    from datetime import date, timedelta

    from monitoring.data_quality import data_quality_daily_summary

    chosen = date.fromisoformat(day) if day else timezone.now().date() - timedelta(days=1)
    summary = data_quality_daily_summary(day=chosen)
    return {"day": summary.day.isoformat(), "rows": 1, "readings": summary.total_readings}


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def model_health_task(run_id: int) -> dict | None:
    """After each scoring run (scoring.signals.run_finished): the model-layer figures."""
    from monitoring.model_health import model_health_compute

    rows = model_health_compute(run_id=run_id)
    if not rows:
        logger.warning("no model health figures for run %s (gone, or nothing scored)", run_id)
        return None
    return {"run_id": run_id, "rows": len(rows)}


# ---------------------------------------------------------------- retraining loop (H8)


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def retraining_triggers_task(checks: list[str] | None = None, now: str | None = None) -> list[int]:
    """Evaluate the retraining triggers (default: all; beat runs each at its cadence) and
    start the retrains they fired. `now` (ISO 8601) replays another time."""
    from monitoring.retraining.services import ChecksFailed, triggers_evaluate

    moment = datetime.fromisoformat(now) if now else timezone.now()
    try:
        started = triggers_evaluate(now=moment, kinds=checks)
    except ChecksFailed as exc:
        _start_retrains(exc.started, now)
        raise
    _start_retrains(started, now)
    logger.info("retraining triggers %s: %d retrains started", checks or "all", len(started))
    return [trigger.pk for trigger in started]


def _start_retrains(triggers, now: str | None) -> None:
    from django.db import transaction

    for trigger in triggers:
        transaction.on_commit(lambda pk=trigger.pk: retrain_task.delay(pk, now))


@shared_task(time_limit=65 * 60, soft_time_limit=60 * 60)
def retrain_task(trigger_id: int, now: str | None = None) -> str | None:
    """Train the trigger's candidate and put it in canary (idempotent: claims the trigger)."""
    from monitoring.retraining.loop import retrain_start

    moment = datetime.fromisoformat(now) if now else timezone.now()
    trigger = retrain_start(trigger_id=trigger_id, now=moment)
    if trigger is None:
        return None
    if (
        trigger.candidate_id
        and trigger.status == TriggerStatus.CANDIDATE_READY
        and settings.FLEETMON_DETECTION_GATE_ENABLED
    ):
        detection_gate_task.delay(trigger.candidate.model_id)
    return trigger.status


@shared_task(time_limit=90 * 60, soft_time_limit=85 * 60)
def detection_gate_task(model_id: str) -> dict | None:
    """Replay a candidate beside production on the gate's fixed fleet (D11 detection gate);
    the candidate review waits for its report."""
    from monitoring.detection.gate import detection_gate
    from scoring.models import ModelVersion

    version = ModelVersion.objects.filter(model_id=model_id).first()
    if version is None:
        logger.info("detection gate: %s is gone; nothing to do", model_id)
        return None
    report = detection_gate(version=version, requested_by="retraining-loop")
    return {"passed": report["passed"], "failures": report.get("failures", [])}


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def candidate_review_task(trigger_id: int | None = None) -> dict[int, str]:
    """Promote or reject candidates that have their canary results; resume lost retrains."""
    from monitoring.retraining.loop import candidate_review, retrains_to_resume, reviews_due

    outcomes = {}
    for pk in [trigger_id] if trigger_id else reviews_due():
        trigger = candidate_review(trigger_id=pk)
        if trigger is not None:
            outcomes[pk] = trigger.status
    if trigger_id is None:
        for pk in retrains_to_resume():
            retrain_task.delay(pk)
    logger.info("candidate review: %s", outcomes or "nothing due")
    return outcomes


# ---------------------------------------------------------------- infrastructure and SLAs (H6)


def _moment(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else timezone.now()


@shared_task(bind=True, time_limit=2 * 60, soft_time_limit=100)
def infra_monitor_task(self, now: str | None = None) -> dict[str, int]:
    """Every minute: job health, scoring latency and throughput, heartbeats, queue depths."""
    from monitoring.infra import readers
    from monitoring.infra.config import knob
    from monitoring.infra.service import infra_check

    me = self.request.hostname

    def ping() -> set[str]:
        # A solo worker cannot answer while it runs this task; it is alive all the same.
        answering = readers.ping_workers(timeout=knob("FLEETMON_WORKER_PING_TIMEOUT_SECONDS"))
        return answering | {me} if me else answering

    return infra_check(now=_moment(now), ping=ping)


@shared_task(time_limit=2 * 60, soft_time_limit=100)
def freshness_task(now: str | None = None) -> dict[str, int]:
    """Every minute: freshness per dataset and the escalation ladder (domain §3.4, §3.7)."""
    from monitoring.freshness import freshness_check

    return freshness_check(now=_moment(now))


@shared_task(time_limit=5 * 60, soft_time_limit=4 * 60)
def sla_measure_task(now: str | None = None) -> dict[str, int]:
    """Every 15 minutes: the five system SLAs, stored as history; breaches raise alerts."""
    from monitoring.sla import sla_measure

    return sla_measure(now=_moment(now))


@shared_task(time_limit=60, soft_time_limit=50)
def monitor_notify_task(alert_id: int) -> dict[str, int]:
    """After a monitor alert opens or worsens: tell people by domain §3.7's ladder."""
    from monitoring.monitor_notify import monitor_notify

    return monitor_notify(alert_id)
