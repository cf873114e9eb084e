"""Thin Celery shells around the monitoring services."""

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

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

