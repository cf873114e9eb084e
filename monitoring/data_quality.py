"""Data-layer monitors beyond drift (domain §3.6, §3.8, §5.2): null rate per sensor per
hour, the quality-flag mix against its 30-day rate, completeness, per-sensor availability,
the daily `data_quality_daily_summary`, and the monitors on top of the drift job.

The hourly job reads one clock hour of readings once (grouped per device, then per
equipment model), stores every figure in `data_quality_hourly` with what it was compared
with, and raises or clears one monitor alert per sensor, flag or check. Baselines come
from the stored hours, never from a re-scan of 7 or 30 days of readings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from django.db import connection, transaction
from django.db.models import Avg, Count, Max, Sum
from django.utils import timezone

from alerts.models import Severity
from fleetmon.registry.models import Device
from fleetmon.sensors import SENSOR_NAMES
from monitoring.drift import PSI_SIGNIFICANT
from monitoring.model_metrics import above, below
from monitoring.models import (
    DataQualityDailySummary,
    DataQualityHourly,
    DataQualityMetric,
    DriftCheck,
    FeatureDriftMetric,
    MonitorLayer,
)
from monitoring.monitors import monitor_clear, monitor_raise
from quality.checks.readings import Flag

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Domain §5.2 thresholds.
NULL_RATE_CHANGE = 0.05  # null rate per sensor per hour: change > 5 pp vs the 7-day average
NULL_RATE_BASELINE = timedelta(days=7)
FLAG_RATE_FACTOR = 2.0  # any flag > 2x its 30-day average rate
FLAG_RATE_BASELINE = timedelta(days=30)
COMPLETENESS_MIN_MEDIAN = 0.8  # median completeness < 0.8
AVAILABILITY_MIN = 0.9  # a sensor reported by < 90 % of the devices reporting at all
# Ours: a baseline needs a day of stored hours; and a flag on fewer than 0.1 % of the rows
# is noise whatever its baseline (a flag at 0 for 30 days would otherwise fire on one row).
MIN_BASELINE_HOURS = 24
FLAG_RATE_FLOOR = 0.001
# [EVAL]: a feature with PSI above this is an emergency, not a retrain question.
PSI_EMERGENCY = 1.0
# Ours: PSI is read only on samples of at least 50 rows per bin (see _feature_drift).
PSI_MIN_ROWS = 500

FLAGS: tuple[str, ...] = tuple(flag.value for flag in Flag)
# Flags carried by clean rows; DEVICE_UNKNOWN rows go to quarantine (its rate is theirs).
CLEAN_FLAGS: tuple[str, ...] = tuple(f for f in FLAGS if f != Flag.DEVICE_UNKNOWN)

RUNBOOKS = {
    "data_null_rate": "data-null-rate",
    "data_flag_mix": "data-quality-flags",
    "data_completeness": "data-completeness",
    "data_sensor_availability": "sensor-availability",
    "feature_drift": "feature-drift",
    "pipeline_suspect": "pipeline-suspect",
}


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class ReadingCounts:
    """Counts of the readings landed in [start, end).

    `by_model` has one row per equipment model: devices, readings (clean rows), and per
    sensor `nonnull_<sensor>` (rows with a value) and `has_<sensor>` (devices that sent it
    at least once), per clean flag `flag_<flag>` (rows carrying it), and `flagged`.
    """

    by_model: pd.DataFrame
    quarantined: int
    dead_lettered: int
    dead_letter_only_devices: int  # sent only all-null readings: reporting, but no sensor

    @property
    def clean(self) -> int:
        return int(self.by_model["readings"].sum()) if len(self.by_model) else 0

    @property
    def total(self) -> int:
        return self.clean + self.quarantined + self.dead_lettered

    @property
    def devices_reporting(self) -> int:
        devices = int(self.by_model["devices"].sum()) if len(self.by_model) else 0
        return devices + self.dead_letter_only_devices

    def fleet(self, column: str) -> int:
        return int(self.by_model[column].sum()) if len(self.by_model) else 0


def _flag_column(flag: str) -> str:
    return f"flag_{flag.lower()}"  # PostgreSQL folds unquoted names to lower case


def _per_device_sql() -> str:
    sensors = ", ".join(f"count({s}) AS nonnull_{s}" for s in SENSOR_NAMES)
    # The flag names are our own enum values, never user input.
    flags = ", ".join(
        f"count(*) FILTER (WHERE '{f}' = ANY(quality_flags)) AS {_flag_column(f)}"
        for f in CLEAN_FLAGS
    )
    totals = ", ".join(
        [f"sum(p.nonnull_{s}) AS nonnull_{s}" for s in SENSOR_NAMES]
        + [f"count(*) FILTER (WHERE p.nonnull_{s} > 0) AS has_{s}" for s in SENSOR_NAMES]
        + [f"sum(p.{_flag_column(f)}) AS {_flag_column(f)}" for f in CLEAN_FLAGS]
    )
    return f"""
        WITH per_device AS (
            SELECT device_id, count(*) AS readings, {sensors}, {flags},
                   count(*) FILTER (WHERE cardinality(quality_flags) > 0) AS flagged
            FROM clean_sensor_readings
            WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
            GROUP BY device_id
        )
        SELECT coalesce(d.equipment_model, '') AS equipment_model, count(*) AS devices,
               sum(p.readings) AS readings, sum(p.flagged) AS flagged, {totals}
        FROM per_device p LEFT JOIN registry_device d USING (device_id)
        GROUP BY 1 ORDER BY 1
    """


def reading_counts(*, start: datetime, end: datetime) -> ReadingCounts:
    """Count the clean, quarantined and dead-lettered readings of [start, end)."""
    params = {"start": start, "end": end}
    with connection.cursor() as cursor:
        cursor.execute(_per_device_sql(), params)
        columns = [c.name for c in cursor.description]
        by_model = pd.DataFrame(cursor.fetchall(), columns=columns).set_index("equipment_model")
        by_model = by_model.astype("int64")
        cursor.execute(
            "SELECT count(*) FROM quarantine_sensor_readings"
            " WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s",
            params,
        )
        quarantined = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*), count(DISTINCT device_id) FILTER (WHERE NOT EXISTS (
                SELECT 1 FROM clean_sensor_readings c
                WHERE c.device_id = x.device_id
                  AND c.timestamp_utc >= %(start)s AND c.timestamp_utc < %(end)s))
            FROM dead_letter_sensor_readings x
            WHERE x.timestamp_utc >= %(start)s AND x.timestamp_utc < %(end)s
            """,
            params,
        )
        dead_lettered, dead_only = cursor.fetchone()
    return ReadingCounts(by_model, quarantined, dead_lettered, dead_only)


def completeness_medians(*, window_end: datetime, minutes: int) -> dict[str, tuple[float, int]]:
    """Median `sensor_completeness` of the windows ending at `window_end`: {"": fleet,
    cohort_id: cohort} -> (median, windows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT grouping(d.cohort_id) = 1 AS fleet, d.cohort_id,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY f.sensor_completeness),
                   count(*)
            FROM device_features f JOIN registry_device d USING (device_id)
            WHERE f.window_duration_minutes = %(minutes)s AND f.window_end = %(end)s
            GROUP BY GROUPING SETS ((), (d.cohort_id))
            """,
            {"minutes": minutes, "end": window_end},
        )
        rows = cursor.fetchall()
    return {
        ("" if fleet else cohort): (float(median), int(n)) for fleet, cohort, median, n in rows if n
    }


# ---------------------------------------------------------------- the hourly job


@dataclass(frozen=True)
class HourResult:
    hour: datetime
    rows: int
    readings: int
    flagged: tuple[str, ...]  # "metric:key" of the figures that breached their rule


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def data_quality_hour(
    *, hour: datetime, now: datetime | None = None, monitors: bool = True
) -> HourResult:
    """Compute, store and (with `monitors`) alert on the data quality of one clock hour.

    1. Count the hour's readings per equipment model (one pass), quarantine and dead letter.
    2. Null rate per sensor (fleet and per equipment model), availability per sensor,
       the rate of each quality flag, quarantine and dead-letter rates, and the median
       completeness of the 60-minute feature windows ending at the hour's end.
    3. Compare: null rates with their 7-day average, flag rates with their pooled 30-day
       rate (stored hours only, at least MIN_BASELINE_HOURS of them); completeness and
       availability with their fixed limits.
    4. Replace the hour's rows; raise or clear one monitor per sensor, flag and check.
    A re-run replaces the hour; a replay of an old hour should pass monitors=False.
    """
    if hour != hour.replace(minute=0, second=0, microsecond=0):
        raise ValueError(f"{hour.isoformat()} is not the start of an hour")
    now = now or timezone.now()
    counts = reading_counts(start=hour, end=hour + HOUR)
    clean, total, reporting = counts.clean, counts.total, counts.devices_reporting
    null_base = _null_rate_baselines(hour)
    flag_base = _flag_rate_baselines(hour)

    def row(metric, value, *, key="", scope="", count=0, denominator=0, baseline=None, flag=False):
        return DataQualityHourly(
            hour=hour,
            metric=metric,
            scope=scope,
            key=key,
            value=value,
            count=count,
            total=denominator,
            baseline=baseline,
            flagged=flag,
            computed_at=now,
        )

    rows = [row(DataQualityMetric.READINGS, float(total), count=clean, denominator=total)]
    for sensor in SENSOR_NAMES:
        nulls = clean - counts.fleet(f"nonnull_{sensor}")
        rate, baseline = _rate(nulls, clean), null_base.get(sensor)
        breach = rate is not None and baseline is not None
        breach = breach and above(abs(rate - baseline), NULL_RATE_CHANGE)
        rows.append(
            row(
                DataQualityMetric.NULL_RATE,
                rate,
                key=sensor,
                count=nulls,
                denominator=clean,
                baseline=baseline,
                flag=breach,
            )
        )
        for model, per in counts.by_model.iterrows():
            model_nulls = int(per["readings"] - per[f"nonnull_{sensor}"])
            rows.append(
                row(
                    DataQualityMetric.NULL_RATE,
                    _rate(model_nulls, int(per["readings"])),
                    key=sensor,
                    scope=str(model),
                    count=model_nulls,
                    denominator=int(per["readings"]),
                )
            )
        has = counts.fleet(f"has_{sensor}")
        availability = _rate(has, reporting)
        rows.append(
            row(
                DataQualityMetric.AVAILABILITY,
                availability,
                key=sensor,
                count=has,
                denominator=reporting,
                flag=availability is not None and below(availability, AVAILABILITY_MIN),
            )
        )
    for flag in FLAGS:
        flagged = (
            counts.quarantined if flag == Flag.DEVICE_UNKNOWN else counts.fleet(_flag_column(flag))
        )
        rate, baseline = _rate(flagged, total), flag_base.get(flag)
        rows.append(
            row(
                DataQualityMetric.FLAG_RATE,
                rate,
                key=flag,
                count=flagged,
                denominator=total,
                baseline=baseline,
                flag=_flag_breach(rate, baseline),
            )
        )
    rows.append(
        row(
            DataQualityMetric.QUARANTINE_RATE,
            _rate(counts.quarantined, total),
            count=counts.quarantined,
            denominator=total,
        )
    )
    rows.append(
        row(
            DataQualityMetric.DEAD_LETTER_RATE,
            _rate(counts.dead_lettered, total),
            count=counts.dead_lettered,
            denominator=total,
        )
    )
    for scope, (median, windows) in completeness_medians(
        window_end=hour + HOUR, minutes=60
    ).items():
        rows.append(
            row(
                DataQualityMetric.COMPLETENESS_MEDIAN,
                median,
                scope=scope,
                count=windows,
                denominator=windows,
                flag=below(median, COMPLETENESS_MIN_MEDIAN),
            )
        )
    with transaction.atomic():
        DataQualityHourly.objects.filter(hour=hour).delete()
        DataQualityHourly.objects.bulk_create(rows, batch_size=1000)
    if monitors:
        _hour_monitors(rows, now=now)
    result = HourResult(
        hour=hour,
        rows=len(rows),
        readings=total,
        flagged=tuple(f"{r.metric}:{r.scope or r.key}" for r in rows if r.flagged),
    )
    logger.info(
        "data quality %s: %d readings, %d rows, flagged %s",
        hour.isoformat(),
        total,
        len(rows),
        ", ".join(result.flagged) or "nothing",
    )
    return result


def _flag_breach(rate: float | None, baseline: float | None) -> bool:
    if rate is None or baseline is None:
        return False
    return above(rate, FLAG_RATE_FACTOR * baseline) and rate >= FLAG_RATE_FLOOR


def _null_rate_baselines(hour: datetime) -> dict[str, float]:
    """The mean of each sensor's stored hourly fleet null rate over the 7 days before."""
    rows = (
        DataQualityHourly.objects.filter(
            metric=DataQualityMetric.NULL_RATE,
            scope="",
            hour__gte=hour - NULL_RATE_BASELINE,
            hour__lt=hour,
            value__isnull=False,
        )
        .values("key")
        .annotate(mean=Avg("value"), hours=Count("id"))
    )
    return {r["key"]: r["mean"] for r in rows if r["hours"] >= MIN_BASELINE_HOURS}


def _flag_rate_baselines(hour: datetime) -> dict[str, float]:
    """Each flag's pooled rate over the 30 days before: its rows / all landed rows."""
    rows = (
        DataQualityHourly.objects.filter(
            metric=DataQualityMetric.FLAG_RATE,
            hour__gte=hour - FLAG_RATE_BASELINE,
            hour__lt=hour,
            total__gt=0,
        )
        .values("key")
        .annotate(flagged=Sum("count"), landed=Sum("total"), hours=Count("id"))
    )
    return {r["key"]: r["flagged"] / r["landed"] for r in rows if r["hours"] >= MIN_BASELINE_HOURS}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _hour_monitors(rows: list[DataQualityHourly], *, now: datetime) -> None:
    """One monitor per sensor (null rate, availability), flag, and fleet completeness."""
    for r in rows:
        if r.scope or r.value is None:  # per-model and per-cohort figures: dashboard only
            continue
        if r.metric == DataQualityMetric.NULL_RATE:
            if r.baseline is None:
                continue
            rising = r.value > r.baseline
            _apply(
                r,
                monitor="data_null_rate",
                subject=r.key,
                severity=Severity.MEDIUM if rising else Severity.LOW,
                title=(
                    f"Null rate of {r.key} {'rose' if rising else 'fell'} to {_pct(r.value)}"
                    f" (7-day average {_pct(r.baseline)})"
                ),
                description=(
                    "The share of clean readings with this sensor null changed by more than "
                    f"{NULL_RATE_CHANGE:.0%} points against its 7-day average (domain §5.2)."
                ),
                now=now,
            )
        elif r.metric == DataQualityMetric.AVAILABILITY:
            _apply(
                r,
                monitor="data_sensor_availability",
                subject=r.key,
                severity=Severity.MEDIUM,
                title=(
                    f"{r.key} reported by {_pct(r.value)} of devices (limit {AVAILABILITY_MIN:.0%})"
                ),
                description=(
                    f"{r.count} of the {r.total} devices that sent readings in the hour "
                    "sent this sensor at least once (domain §5.2: alert under 90 %)."
                ),
                now=now,
            )
        elif r.metric == DataQualityMetric.FLAG_RATE:
            if r.baseline is None:
                continue
            _apply(
                r,
                monitor="data_flag_mix",
                subject=r.key,
                severity=Severity.MEDIUM,
                title=(f"{r.key} on {_pct(r.value)} of readings (30-day rate {_pct(r.baseline)})"),
                description=(
                    f"The flag's hourly rate is more than {FLAG_RATE_FACTOR:g}x its 30-day "
                    "average rate (domain §5.2)."
                ),
                now=now,
            )
        elif r.metric == DataQualityMetric.COMPLETENESS_MEDIAN and r.scope == "":
            _apply(
                r,
                monitor="data_completeness",
                subject="fleet",
                severity=Severity.MEDIUM,
                title=(
                    f"Median sensor completeness {r.value:.2f} (limit {COMPLETENESS_MIN_MEDIAN:g})"
                ),
                description=(
                    f"Median sensor_completeness of the {r.count} 60-minute feature windows "
                    "ending at the end of the hour is below 0.8 (domain §5.2)."
                ),
                now=now,
            )


def _apply(r: DataQualityHourly, *, monitor, subject, severity, title, description, now) -> None:
    if not r.flagged:
        monitor_clear(monitor=monitor, subject=subject, now=now)
        return
    monitor_raise(
        monitor=monitor,
        layer=MonitorLayer.DATA,
        subject=subject,
        severity=severity,
        title=title,
        description=description,
        evidence={
            "hour": r.hour.isoformat(),
            "metric": r.metric,
            "key": r.key,
            "value": r.value,
            "baseline": r.baseline,
            "count": r.count,
            "total": r.total,
        },
        runbook=RUNBOOKS[monitor],
        now=now,
    )


# ---------------------------------------------------------------- the daily summary


def data_quality_daily_summary(
    *, day: date, now: datetime | None = None
) -> DataQualityDailySummary:
    """Write `data_quality_daily_summary` for one UTC day (domain §3.8); re-runs replace.

    Dropout states are the registry's at compute time (the hourly dropout job keeps no
    history), so the job runs just after midnight.
    """
    now = now or timezone.now()
    start = datetime.combine(day, time(0), tzinfo=UTC)
    counts = reading_counts(start=start, end=start + timedelta(days=1))
    clean, total = counts.clean, counts.total
    flag_counts = {f: counts.fleet(_flag_column(f)) for f in CLEAN_FLAGS}
    flag_counts[Flag.DEVICE_UNKNOWN.value] = counts.quarantined
    daily = completeness_medians(window_end=start + timedelta(days=1), minutes=1440)
    states = dict(
        Device.objects.filter(is_active=True)
        .values_list("dropout_state")
        .annotate(n=Count("pk"))
        .values_list("dropout_state", "n")
    )
    summary, _ = DataQualityDailySummary.objects.update_or_create(
        day=day,
        defaults={
            "total_readings": total,
            "clean_readings": clean,
            "flagged_readings": counts.fleet("flagged"),
            "flag_counts": flag_counts,
            "quarantined": counts.quarantined,
            "quarantine_rate": _rate(counts.quarantined, total),
            "dead_lettered": counts.dead_lettered,
            "dead_letter_rate": _rate(counts.dead_lettered, total),
            "null_rates": {
                s: _rate(clean - counts.fleet(f"nonnull_{s}"), clean) for s in SENSOR_NAMES
            },
            "dropout_states": states,
            "devices_reporting": counts.devices_reporting,
            "completeness_median": daily[""][0] if "" in daily else None,
            "computed_at": now,
        },
    )
    logger.info("data quality summary %s: %d readings", day.isoformat(), total)
    return summary


# ---------------------------------------------------------------- drift monitors


def drift_subject(check: DriftCheck) -> str:
    where = f"cohort {check.cohort_id}" if check.cohort_id else "fleet"
    return f"{where} · {check.window_minutes} min"


def drift_monitors_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Raise or clear the drift monitors from the newest stored drift run of each window.

    Per scope (the fleet, each cohort): the D8 meta-check first. More than 30 % of the
    features drifting at once raises `pipeline_suspect` *instead of* `feature_drift` (a
    pipeline or baseline problem, not a retrain). Otherwise `feature_drift` fires on any
    feature drifting by the three-window KS rule (MEDIUM) or breaching KS in this window
    with significant PSI (> 0.2, on PSI_MIN_ROWS rows or more; LOW alone), HIGH when such
    a PSI passes 1.0.
    """
    now = now or timezone.now()
    raised = {"feature_drift": 0, "pipeline_suspect": 0}
    for minutes in (60, 1440):
        latest = DriftCheck.objects.filter(window_minutes=minutes).aggregate(end=Max("window_end"))
        if latest["end"] is None:
            continue
        checks = DriftCheck.objects.filter(window_minutes=minutes, window_end=latest["end"])
        metrics: dict[str, list[FeatureDriftMetric]] = {}
        for m in FeatureDriftMetric.objects.filter(
            window_minutes=minutes, window_end=latest["end"]
        ):
            metrics.setdefault(m.cohort_id, []).append(m)
        for check in checks:
            subject = drift_subject(check)
            if check.pipeline_suspect:
                _raise_suspect(check, subject, now)
                monitor_clear(monitor="feature_drift", subject=subject, now=now)
                raised["pipeline_suspect"] += 1
                continue
            monitor_clear(monitor="pipeline_suspect", subject=subject, now=now)
            if _feature_drift(check, metrics.get(check.cohort_id, []), subject, now):
                raised["feature_drift"] += 1
            else:
                monitor_clear(monitor="feature_drift", subject=subject, now=now)
    return raised


def _raise_suspect(check: DriftCheck, subject: str, now: datetime) -> None:
    monitor_raise(
        monitor="pipeline_suspect",
        layer=MonitorLayer.DATA,
        subject=subject,
        severity=Severity.HIGH,
        title=(
            f"Pipeline or baseline suspect: {check.features_drifting} of "
            f"{check.features_total} features drift at once ({subject})"
        ),
        description=(
            "More than 30 % of the features drift in the same window (decision D8). Real "
            "drift rarely moves that many features together: look for a pipeline bug or a "
            "stale baseline before any retrain."
        ),
        evidence={
            "window_end": check.window_end.isoformat(),
            "window_minutes": check.window_minutes,
            "features_drifting": check.features_drifting,
            "features_total": check.features_total,
            "drifting_share": check.drifting_share,
            "baseline_rows": check.baseline_rows,
            "current_rows": check.current_rows,
        },
        runbook=RUNBOOKS["pipeline_suspect"],
        now=now,
    )


def _feature_drift(check, metrics: list[FeatureDriftMetric], subject: str, now) -> bool:
    drifting = [m for m in metrics if m.drifting]
    # TRICKY: PSI counts only where this window's KS test also breached and both samples
    # fill its ten bins. On a 30-device cohort PSI is noise: a bias of about
    # (bins - 1) * (1/n_baseline + 1/n_current) = 0.33 with no drift at all, and an empty
    # bin (raised to epsilon) alone gives PSI > 1. The KS p-value accounts for n.
    significant = [
        m
        for m in metrics
        if m.ks_exceeded
        and min(m.n_current, m.n_baseline) >= PSI_MIN_ROWS
        and m.psi_value is not None
        and m.psi_value > PSI_SIGNIFICANT
    ]
    if not drifting and not significant:
        return False
    emergency = [m for m in significant if m.psi_value > PSI_EMERGENCY]
    severity = Severity.LOW
    if drifting:
        severity = Severity.MEDIUM
    if emergency:
        severity = Severity.HIGH
    ranked = sorted(
        {m.feature_name: m for m in drifting + significant}.values(),
        key=lambda m: -(m.ks_statistic or 0),
    )
    names = ", ".join(m.feature_name for m in ranked[:5])
    monitor_raise(
        monitor="feature_drift",
        layer=MonitorLayer.DATA,
        subject=subject,
        severity=severity,
        title=(
            f"Feature drift ({subject}): {len(drifting)} drifting by KS, "
            f"{len(significant)} with PSI > {PSI_SIGNIFICANT:g}: {names}"
        ),
        description=(
            "A feature drifts when KS > 0.1 with p < 0.01 in three consecutive windows; PSI "
            "> 0.2 is significant (decision D8). PSI > 1.0 is an emergency ([EVAL])."
        ),
        evidence={
            "window_end": check.window_end.isoformat(),
            "window_minutes": check.window_minutes,
            "drifting": [m.feature_name for m in drifting],
            "psi_significant": [m.feature_name for m in significant],
            "features": [
                {
                    "feature": m.feature_name,
                    "ks": m.ks_statistic,
                    "psi": m.psi_value,
                    "drifting": m.drifting,
                }
                for m in ranked[:20]
            ],
        },
        runbook=RUNBOOKS["feature_drift"],
        now=now,
    )
    return True


def last_closed_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) - HOUR
