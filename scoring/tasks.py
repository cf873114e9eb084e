"""Thin Celery shells around the scoring services."""

import logging
from datetime import datetime, timedelta

from celery import group, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scoring.pause import scoring_paused
from scoring.services.features import (
    RECOMPUTE,
    TRAILING_MINUTES,
    features_compute,
    features_refresh,
    window_floor,
)
from scoring.services.runs import (
    HOURLY_KINDS,
    NothingToScore,
    run_create,
    run_shard_ids,
    runs_sweep,
    shard_score,
)
from scoring.services.training import model_train

logger = logging.getLogger(__name__)


@shared_task(time_limit=20 * 60, soft_time_limit=19 * 60)
def refresh_features_task() -> dict[int, int]:
    """Every 15 minutes: close the feature windows that are due (late data re-done)."""
    return features_refresh(now=timezone.now())


def dispatch_run(**kwargs) -> int:
    """Create a run and send its shards to the workers, in parallel, after commit.

    Raises NothingToScore when there is no model or no device for it.
    """
    run = run_create(**kwargs)
    shards = run_shard_ids(run)
    transaction.on_commit(lambda: group(score_shard_task.s(s) for s in shards).apply_async())
    return run.pk


@shared_task(time_limit=20 * 60, soft_time_limit=19 * 60)
def scheduled_scoring_task(trigger: str, now: str | None = None) -> list[int]:
    """Hourly or daily run on fresh features.

    Hourly: the 15-minute models (IF, statistical, fallback) on the last 15-minute window,
    and the trailing-day models (daily_baseline) on the day ending at the hour, which slow
    faults show in within hours (issue 11). Daily (03:10): every 15-minute model. Only the
    windows the runs score are computed here, late data included; the refresh job keeps
    the rest. `now` (ISO 8601) replays a schedule at another time. Nothing runs while
    scoring is paused (scoring/pause.py: the feature store is stale).
    """
    paused = scoring_paused()
    if paused:
        logger.warning("scheduled %s scoring paused: %s", trigger, paused)
        return []
    now = datetime.fromisoformat(now) if now else timezone.now()
    end = window_floor(now, 15)
    features_compute(minutes=15, start=end - RECOMPUTE[15], end=end)
    kinds = HOURLY_KINDS if trigger == "hourly" else None
    runs = [_dispatch_or_warn(trigger=trigger, window_end=end, kinds=kinds)]
    if trigger == "hourly":
        hour = window_floor(now, 60)
        features_compute(minutes=60, start=hour - timedelta(hours=1), end=hour)
        features_compute(minutes=TRAILING_MINUTES, start=hour - timedelta(days=1), end=hour)
        runs.append(
            _dispatch_or_warn(trigger=trigger, window_end=hour, window_minutes=TRAILING_MINUTES)
        )
    return [run for run in runs if run is not None]


def _dispatch_or_warn(**kwargs) -> int | None:
    try:
        return dispatch_run(requested_by="beat", **kwargs)
    except NothingToScore as exc:
        logger.warning("no %s scoring run: %s", kwargs["trigger"], exc)
        return None


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60, acks_late=True)
def score_shard_task(shard_id: int) -> None:
    shard_score(shard_id=shard_id)


@shared_task(time_limit=60, soft_time_limit=50)
def sweep_runs_task() -> int:
    """Every 10 s: re-dispatch shards whose worker stopped reporting; close finished runs."""
    stale = runs_sweep(
        now=timezone.now(), stale_after=timedelta(seconds=settings.FLEETMON_SHARD_STALE_SECONDS)
    )
    for shard_id in stale:
        score_shard_task.delay(shard_id)
    return len(stale)


@shared_task(time_limit=60 * 60, soft_time_limit=59 * 60)
def train_model_task(kind: str, actor: str = "system") -> str:
    return model_train(kind=kind, actor=actor).model_id
