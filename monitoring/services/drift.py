"""The data-drift job (domain §5.2, §5.4, decision D8): KS and PSI of every feature for one
window against a 30-day rolling baseline, fleet-wide and per cohort, into
`feature_drift_metrics`, with the three-window KS rule and the > 30 % meta-check.

Baseline: the same clock window on each of the 30 previous days (for daily windows the 30
previous days), sampled to at most FLEETMON_DRIFT_BASELINE_ROWS rows (default 300,000).
Why 300,000 for a 100k-device fleet: three times the current window, so the baseline's own
sampling noise adds a third to the KS statistic's variance (a 200k sample would add half);
the null KS statistic per cohort stays near 0.01-0.02, far under D8's 0.1, and the PSI's
small-sample bias ((bins - 1) * (1/n_b + 1/n_c)) under 0.004 even in the smallest cohort.
In a 100k-device fleet every cohort of more than 3,333 devices also gets > 10,000 baseline
rows, where scipy's KS p-value is the cheap asymptotic one, not the exact O(n1 * n2) count.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring import drift, selectors
from monitoring.models import DriftCheck, FeatureDriftMetric
from scoring.features import WINDOW_MINUTES
from scoring.services.features import window_floor

logger = logging.getLogger(__name__)

BASELINE_DAYS = 30
DEFAULT_BASELINE_ROWS = 300_000


class NothingToCompare(Exception):
    """No feature rows for the window, or no baseline before it."""


@dataclass(frozen=True)
class DriftRun:
    window_end: datetime
    minutes: int
    metrics: int
    baseline_rows: int
    current_rows: int
    fleet_drifting: int
    fleet_suspect: bool
    suspect_cohorts: tuple[str, ...]
    seconds: float


def drift_compute(
    *, window_end: datetime, minutes: int = 60, now: datetime | None = None
) -> DriftRun:
    """Compute and store the drift of the window ending at `window_end`; re-runs replace.

    1. Read the window's feature rows and the sampled 30-day baseline (with cohorts).
    2. KS + PSI per feature, fleet and per cohort (`monitoring.drift.drift_frame`).
    3. A feature drifts when this window and the two stored before it breached the KS rule.
    4. Per scope, the meta-check: > 30 % drifting marks the run `pipeline_suspect`.
    Raises NothingToCompare when either side is empty.
    """
    if minutes not in WINDOW_MINUTES:
        raise ValueError(f"window must be one of {WINDOW_MINUTES} minutes, not {minutes}")
    if window_floor(window_end, minutes) != window_end:
        raise ValueError(f"{window_end.isoformat()} is not the end of a {minutes}-minute window")
    started = time.perf_counter()
    now = now or timezone.now()
    current = selectors.window_features(minutes=minutes, window_end=window_end)
    if current.empty:
        raise NothingToCompare(f"no {minutes}-minute features end at {window_end.isoformat()}")
    max_rows = getattr(settings, "FLEETMON_DRIFT_BASELINE_ROWS", DEFAULT_BASELINE_ROWS)
    baseline = selectors.baseline_features(
        minutes=minutes, window_end=window_end, days=BASELINE_DAYS, max_rows=max_rows
    )
    if baseline.empty:
        raise NothingToCompare(f"no baseline in the {BASELINE_DAYS} days before {window_end}")
    table = drift.drift_frame(baseline, current)
    history = selectors.previous_breaches(
        minutes=minutes, window_end=window_end, windows=drift.KS_CONSECUTIVE_WINDOWS - 1
    )
    window_start = window_end - timedelta(minutes=minutes)
    metrics = [
        _metric(row, history, now=now, window_start=window_start, window_end=window_end)
        for row in table.itertuples(index=False)
    ]
    checks = _checks(metrics, baseline, current, now=now)
    with transaction.atomic():
        for model in (FeatureDriftMetric, DriftCheck):
            model.objects.filter(window_minutes=minutes, window_end=window_end).delete()
        FeatureDriftMetric.objects.bulk_create(metrics, batch_size=1000)
        DriftCheck.objects.bulk_create(checks)
    fleet = next(c for c in checks if c.scope == drift.FLEET)
    run = DriftRun(
        window_end=window_end,
        minutes=minutes,
        metrics=len(metrics),
        baseline_rows=len(baseline),
        current_rows=len(current),
        fleet_drifting=fleet.features_drifting,
        fleet_suspect=fleet.pipeline_suspect,
        suspect_cohorts=tuple(c.cohort_id for c in checks if c.cohort_id and c.pipeline_suspect),
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "drift %dm @ %s: %d metrics, baseline %d rows, current %d rows, fleet drifting %d%s,"
        " %.1f s",
        minutes,
        window_end.isoformat(),
        run.metrics,
        run.baseline_rows,
        run.current_rows,
        run.fleet_drifting,
        " (pipeline suspect)" if run.fleet_suspect else "",
        run.seconds,
    )
    return run


def _metric(row, history, *, now, window_start, window_end) -> FeatureDriftMetric:
    minutes = int((window_end - window_start) / timedelta(minutes=1))
    earlier = [
        history.get(
            (
                row.scope,
                row.cohort_id,
                row.feature_name,
                window_end - timedelta(minutes=minutes * k),
            )
        )
        for k in range(drift.KS_CONSECUTIVE_WINDOWS - 1, 0, -1)
    ]
    return FeatureDriftMetric(
        computed_at=now,
        window_start=window_start,
        window_end=window_end,
        window_minutes=minutes,
        scope=row.scope,
        cohort_id=row.cohort_id,
        feature_name=row.feature_name,
        ks_statistic=_nullable(row.ks_statistic),
        ks_p_value=_nullable(row.ks_p_value),
        psi_value=_nullable(row.psi),
        drift_severity=row.severity,
        ks_exceeded=bool(row.ks_exceeded),
        drifting=drift.drifting([*earlier, bool(row.ks_exceeded)]),
        n_baseline=row.n_baseline,
        n_current=row.n_current,
        null_baseline=row.null_baseline,
        null_current=row.null_current,
    )


def _checks(metrics, baseline, current, *, now) -> list[DriftCheck]:
    """One meta-check per scope (the fleet, then each cohort)."""
    scopes: dict[tuple[str, str], list[FeatureDriftMetric]] = {}
    for metric in metrics:
        scopes.setdefault((metric.scope, metric.cohort_id), []).append(metric)
    rows_in = {
        side: {"": len(frame), **frame["cohort_id"].value_counts().to_dict()}
        for side, frame in (("baseline", baseline), ("current", current))
    }
    checks = []
    for (scope, cohort_id), rows in scopes.items():
        compared = [m for m in rows if m.drift_severity != drift.Severity.NO_DATA]
        drifting = sum(m.drifting for m in compared)
        checks.append(
            DriftCheck(
                computed_at=now,
                window_start=rows[0].window_start,
                window_end=rows[0].window_end,
                window_minutes=rows[0].window_minutes,
                scope=scope,
                cohort_id=cohort_id,
                features_total=len(compared),
                features_exceeded=sum(m.ks_exceeded for m in compared),
                features_drifting=drifting,
                drifting_share=drifting / len(compared) if compared else 0.0,
                pipeline_suspect=drift.pipeline_suspect(drifting, len(compared)),
                baseline_rows=rows_in["baseline"].get(cohort_id, 0),
                current_rows=rows_in["current"][cohort_id],
            )
        )
    return checks


def _nullable(value) -> float | None:
    return None if value is None or value != value else float(value)
