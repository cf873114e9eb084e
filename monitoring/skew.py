"""Training-serving skew checks (domain §3.5): does what a production model scores now look
like what it was trained on?

Per production model version, the serving side is its feature windows of the last hour
(the last day for daily models), aggregated in SQL. The training side is the version's
`training_statistics` (mean, std, min, max per feature) plus, measured once per version on
the raw features of its training window and kept in `skew_references`, the pre-imputation
null rates and the key-pair correlations the registry does not store (its statistics are
taken after imputation, where nothing is null).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Severity
from monitoring.model_metrics import above
from monitoring.models import MonitorLayer, SkewCheckKind, SkewReference, TrainingServingSkew
from monitoring.monitors import monitor_clear, monitor_raise
from scoring.features import FEATURE_NAMES
from scoring.models import ModelRole, ModelVersion
from scoring.services.features import window_floor

logger = logging.getLogger(__name__)

# Domain §3.5 limits.
MEAN_SHIFT_MAX = 2.0  # |serving mean - training mean| / training std
RANGE_EXPANSION_MAX = 0.10  # share of serving values outside [training min, training max]
CORRELATION_CHANGE_MAX = 0.3  # on the key pairs
NULL_RATE_DIVERGENCE_MAX = 0.05  # 5 percentage points
# Sensor pairs physics ties together (domain §10.3): condensing pressure follows the
# condenser temperature, evaporating pressure the evaporator, the condenser the ambient air,
# discharge temperature the head pressure, compressor current the pressure ratio. A change
# in how they move together is a calibration or pipeline problem, not a fleet change.
KEY_PAIRS: tuple[tuple[str, str], ...] = (
    ("pressure_high_mean", "temp_condenser_mean"),
    ("pressure_low_mean", "temp_evaporator_mean"),
    ("temp_condenser_mean", "temp_ambient_mean"),
    ("temp_discharge_mean", "pressure_high_mean"),
    ("current_compressor_mean", "pressure_ratio"),
)
# The training reference reads a device sample of about this many windows.
REFERENCE_MAX_ROWS = 200_000
_HASH_BUCKETS = 1 << 20
RUNBOOK = "training-serving-skew"


@dataclass(frozen=True)
class Aggregates:
    rows: int
    mean: dict[str, float | None]
    nonnull: dict[str, int]
    outside: dict[str, int]
    corr: dict[tuple[str, str], float | None]


def _features(version: ModelVersion) -> list[str]:
    # Only known C3 columns reach the SQL below.
    return [f for f in version.feature_names if f in FEATURE_NAMES]


def _pairs(features: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in KEY_PAIRS if a in features and b in features]


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _aggregate(
    *, features, pairs, where: str, params: dict, ranges: dict[str, tuple[float, float]]
) -> Aggregates:
    """Count, mean, non-null count, values outside `ranges` and pair correlations, in SQL."""
    parts = ["count(*)"]
    for i, name in enumerate(features):
        parts += [f"avg({name})", f"count({name})"]
        if name in ranges:
            parts.append(f"count(*) FILTER (WHERE {name} < %(lo{i})s OR {name} > %(hi{i})s)")
            params |= {f"lo{i}": ranges[name][0], f"hi{i}": ranges[name][1]}
        else:
            parts.append("0")
    parts += [f"corr({a}, {b})" for a, b in pairs]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)} FROM device_features WHERE {where}", params)
        values = cursor.fetchone()
    rows, rest = int(values[0]), values[1:]
    mean, nonnull, outside = {}, {}, {}
    for i, name in enumerate(features):
        mean[name] = _finite(rest[3 * i])
        nonnull[name] = int(rest[3 * i + 1])
        outside[name] = int(rest[3 * i + 2])
    corr = {pair: _finite(v) for pair, v in zip(pairs, rest[3 * len(features) :], strict=True)}
    return Aggregates(rows, mean, nonnull, outside, corr)


def serving_aggregates(
    *, version: ModelVersion, end: datetime, ranges: dict[str, tuple[float, float]]
) -> Aggregates:
    """The version's feature windows ending in (end - max(1 h, its window), end]."""
    features = _features(version)
    span = timedelta(minutes=max(60, version.window_minutes))
    return _aggregate(
        features=features,
        pairs=_pairs(features),
        where=(
            "window_duration_minutes = %(minutes)s"
            " AND window_end > %(start)s AND window_end <= %(end)s"
        ),
        params={"minutes": version.window_minutes, "start": end - span, "end": end},
        ranges=ranges,
    )


def skew_references(version: ModelVersion, *, now: datetime) -> dict[tuple[str, str], float]:
    """{(statistic, name): value} of the training window, measured on first use.

    Same row filter as training ([TRAIN]: completeness >= 0.7, enough readings, few flags),
    on a hash sample of devices sized to about REFERENCE_MAX_ROWS windows.
    """
    stored = SkewReference.objects.filter(model_id=version.model_id)
    if stored.exists():
        return {(r.statistic, r.name): r.value for r in stored}
    start, end = version.training_window_start, version.training_window_end
    if start is None or end is None:
        return {}
    features = _features(version)
    windows = max(1, (end - start) // timedelta(minutes=version.window_minutes))
    expected = max(1, version.training_devices) * windows
    keep = (
        _HASH_BUCKETS
        if expected <= REFERENCE_MAX_ROWS
        else max(1, round(_HASH_BUCKETS * REFERENCE_MAX_ROWS / expected))
    )
    scale = version.window_minutes / 15
    aggregates = _aggregate(
        features=features,
        pairs=_pairs(features),
        where=(
            "window_duration_minutes = %(minutes)s"
            " AND window_start >= %(start)s AND window_end <= %(end)s"
            " AND sensor_completeness >= 0.7 AND reading_count >= %(min_readings)s"
            " AND quality_flag_count <= %(max_flagged)s"
            " AND (hashtext(device_id) & %(mask)s) < %(keep)s"
        ),
        params={
            "minutes": version.window_minutes,
            "start": start,
            "end": end,
            "min_readings": int(10 * scale),
            "max_flagged": int(5 * scale),
            "mask": _HASH_BUCKETS - 1,
            "keep": keep,
        },
        ranges={},
    )
    if not aggregates.rows:
        return {}
    references = [
        SkewReference(
            model_id=version.model_id,
            statistic="null_rate",
            name=name,
            value=1 - aggregates.nonnull[name] / aggregates.rows,
            rows=aggregates.rows,
            computed_at=now,
        )
        for name in features
    ] + [
        SkewReference(
            model_id=version.model_id,
            statistic="correlation",
            name=f"{a}|{b}",
            value=value,
            rows=aggregates.rows,
            computed_at=now,
        )
        for (a, b), value in aggregates.corr.items()
    ]
    SkewReference.objects.bulk_create(references, ignore_conflicts=True)
    return {(r.statistic, r.name): r.value for r in references}


def _usable(stats: dict) -> bool:
    """A training column that varied: constant ones (a feature always 0 in training) have no
    scale to measure a shift or a range against."""
    std = _finite(stats.get("std"))
    return std is not None and std > 0 and _finite(stats.get("mean")) is not None


def skew_rows(
    *,
    version: ModelVersion,
    serving: Aggregates,
    references: dict[tuple[str, str], float],
    window_end: datetime,
    now: datetime,
) -> list[TrainingServingSkew]:
    """The four §3.5 checks of every feature (and key pair) of one version."""
    statistics = version.training_statistics or {}
    rows = []

    def add(check, feature, training, served, statistic, threshold):
        rows.append(
            TrainingServingSkew(
                computed_at=now,
                window_end=window_end,
                model_id=version.model_id,
                check_kind=check,
                feature=feature,
                training_value=training,
                serving_value=served,
                statistic=statistic,
                threshold=threshold,
                breached=statistic is not None and above(statistic, threshold),
                serving_rows=serving.rows,
            )
        )

    for name in _features(version):
        stats = statistics.get(name, {})
        nonnull = serving.nonnull[name]
        if _usable(stats) and nonnull:
            mean = serving.mean[name]
            shift = abs(mean - stats["mean"]) / stats["std"]
            add(SkewCheckKind.MEAN_SHIFT, name, stats["mean"], mean, shift, MEAN_SHIFT_MAX)
            share = serving.outside[name] / nonnull
            add(SkewCheckKind.RANGE_EXPANSION, name, None, None, share, RANGE_EXPANSION_MAX)
        trained_nulls = references.get(("null_rate", name))
        if trained_nulls is not None and serving.rows:
            served_nulls = 1 - nonnull / serving.rows
            add(
                SkewCheckKind.NULL_RATE_DIVERGENCE,
                name,
                trained_nulls,
                served_nulls,
                abs(served_nulls - trained_nulls),
                NULL_RATE_DIVERGENCE_MAX,
            )
    for (a, b), served in serving.corr.items():
        trained = references.get(("correlation", f"{a}|{b}"))
        if trained is None or served is None:
            continue
        add(
            SkewCheckKind.CORRELATION_CHANGE,
            f"{a}|{b}",
            trained,
            served,
            abs(served - trained),
            CORRELATION_CHANGE_MAX,
        )
    return rows


def _ranges(version: ModelVersion) -> dict[str, tuple[float, float]]:
    ranges = {}
    for name, stats in (version.training_statistics or {}).items():
        low, high = _finite(stats.get("min")), _finite(stats.get("max"))
        if name in FEATURE_NAMES and low is not None and high is not None and _usable(stats):
            ranges[name] = (low, high)
    return ranges


def skew_check(*, now: datetime | None = None, monitors: bool = True) -> list[TrainingServingSkew]:
    """Run the §3.5 checks for every production model (the rules fallback has no
    training); store them (a re-run for the same window replaces) and raise or clear the
    `training_serving_skew` monitor of each model kind."""
    now = now or timezone.now()
    stored: list[TrainingServingSkew] = []
    versions = ModelVersion.objects.filter(role=ModelRole.PRODUCTION).exclude(kind="rules_fallback")
    for version in versions:
        end = window_floor(now, version.window_minutes)
        serving = serving_aggregates(version=version, end=end, ranges=_ranges(version))
        if not serving.rows:
            continue  # nothing served: freshness monitors speak, not this one
        references = skew_references(version, now=now)
        rows = skew_rows(
            version=version, serving=serving, references=references, window_end=end, now=now
        )
        with transaction.atomic():
            TrainingServingSkew.objects.filter(model_id=version.model_id, window_end=end).delete()
            TrainingServingSkew.objects.bulk_create(rows)
        stored += rows
        if monitors:
            _monitor(version, rows, end, now)
    return stored


def _monitor(version, rows: list[TrainingServingSkew], end: datetime, now: datetime) -> None:
    breaches = sorted((r for r in rows if r.breached), key=lambda r: -(r.statistic / r.threshold))
    if not breaches:
        monitor_clear(monitor="training_serving_skew", subject=version.kind, now=now)
        return
    by_check: dict[str, int] = {}
    for r in breaches:
        by_check[r.check_kind] = by_check.get(r.check_kind, 0) + 1
    summary = ", ".join(f"{n} {check.replace('_', ' ')}" for check, n in by_check.items())
    monitor_raise(
        monitor="training_serving_skew",
        layer=MonitorLayer.DATA,
        subject=version.kind,
        severity=Severity.MEDIUM,
        title=f"Training-serving skew on {version.model_id}: {summary}",
        description=(
            "Serving features left the training distribution of the production model "
            "(domain §3.5: mean shift > 2 training std, > 10 % outside the training range, "
            "key-pair correlation change > 0.3, null rate > 5 points off)."
        ),
        evidence={
            "model_id": version.model_id,
            "window_end": end.isoformat(),
            "serving_rows": breaches[0].serving_rows,
            "breaches": [
                {
                    "check": r.check_kind,
                    "feature": r.feature,
                    "statistic": r.statistic,
                    "threshold": r.threshold,
                    "training": r.training_value,
                    "serving": r.serving_value,
                }
                for r in breaches[:20]
            ],
        },
        runbook=RUNBOOK,
        now=now,
    )
