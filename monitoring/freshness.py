"""Freshness per dataset (domain §3.4, D7) with the escalation ladder of §3.7.

Lateness. Each dataset has a freshness marker (its newest row's time, below) and an
interval: how long after the marker the *next* batch may legitimately appear (a window's
length, the scoring cadence; 0 for continuous streams). lateness = max(0, now − marker −
interval): how long the next batch has been overdue. No data at all is infinitely late.

- raw_sensor_readings (SLA 2 min, D7): latest `timestamp_ingested`, interval 0; rows:
  ingested within the SLA.
- clean_sensor_readings (15 min): latest `timestamp_utc` (clean rows are written in the
  landing transaction), interval 0; rows: within the SLA.
- device_features_15 / _60 / _1440 (30 min): latest `window_end` of that duration,
  interval = the window; rows: those of that window.
- model_scores (1 h): `window_end` of the latest completed scheduled run, interval 60 min
  (hourly scoring); rows: the run's `rows_written`.
- device_alerts (5 min): the latest completed run's (`alerted_at` or now) − `finished_at`;
  no row rule (a run may rightly raise nothing).

Fresh = lateness ≤ SLA **and** rows > 0 (where the row rule applies): a build that wrote
nothing must not look fresh (§3.4 pitfall).

Ladder (§3.7), per dataset: SLA < lateness ≤ 2× SLA → LOW (log only); > 2× SLA → MEDIUM
(Slack); zero rows while on time → MEDIUM; a feature dataset more than 2 h late (or
empty) → CRITICAL (page; scoring's staleness policy then falls back to the rules). Fleet
wide: several datasets late at once (setting, default 2) → HIGH (page); devices in
FULL_DROPOUT > 100 → MEDIUM (§3.6 ops alarm), > 500 → HIGH (page).
Streaming scores and streaming alerts have no table of their own: the streaming latency
SLA (monitoring.sla) covers them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Max

from alerts.models import SEVERITY_RANK
from fleetmon.registry.models import Device, DropoutState
from monitoring.infra import readers as infra_readers
from monitoring.infra.checks import Finding
from monitoring.infra.config import knob
from monitoring.models import FreshnessCheck
from scoring.models import DeviceFeatures

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    sla: timedelta
    interval: timedelta = timedelta(0)
    feature_store: bool = False


DATASETS = (
    Dataset("raw_sensor_readings", "Raw readings", timedelta(minutes=2)),
    Dataset("clean_sensor_readings", "Clean readings", timedelta(minutes=15)),
    Dataset(
        "device_features_15", "Features 15 min", timedelta(minutes=30), timedelta(minutes=15), True
    ),
    Dataset(
        "device_features_60", "Features 60 min", timedelta(minutes=30), timedelta(minutes=60), True
    ),
    Dataset(
        "device_features_1440", "Features 1 day", timedelta(minutes=30), timedelta(days=1), True
    ),
    Dataset("model_scores", "Model scores", timedelta(hours=1), timedelta(hours=1)),
    Dataset("device_alerts", "Batch alerts", timedelta(minutes=5)),
)
BY_NAME = {d.name: d for d in DATASETS}


@dataclass(frozen=True)
class Reading:
    """One dataset's state at `now`: its marker, lateness (None: no data) and rows (None:
    the row rule does not apply)."""

    latest_at: datetime | None
    lateness: timedelta | None
    rows: int | None


# ---------------------------------------------------------------- the ladder (pure)


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def lateness_of(*, now: datetime, marker: datetime | None, interval: timedelta):
    if marker is None:
        return None
    return max(timedelta(0), now - marker - interval)


def is_fresh(*, lateness: timedelta | None, sla: timedelta, rows: int | None) -> bool:
    return lateness is not None and lateness <= sla and rows != 0


def dataset_severity(
    *,
    lateness: timedelta | None,
    sla: timedelta,
    rows: int | None,
    feature_store: bool,
    critical_after: timedelta,
) -> str | None:
    """The dataset's own rung of the §3.7 ladder; None when fresh."""
    if is_fresh(lateness=lateness, sla=sla, rows=rows):
        return None
    if feature_store and (lateness is None or lateness > critical_after):
        return "CRITICAL"
    if lateness is None or lateness > 2 * sla:
        return "MEDIUM"
    if lateness > sla:
        return "LOW"
    return "MEDIUM"  # on time, but the latest batch wrote zero rows


def dataset_finding(dataset: Dataset, reading: Reading, *, critical_after: timedelta):
    severity = dataset_severity(
        lateness=reading.lateness,
        sla=dataset.sla,
        rows=reading.rows,
        feature_store=dataset.feature_store,
        critical_after=critical_after,
    )
    if severity is None:
        return None
    sla_min = dataset.sla.total_seconds() / 60
    if reading.lateness is None:
        title, why = f"{dataset.label}: no data", "The dataset has no rows at all."
    elif reading.lateness <= dataset.sla:
        title, why = f"{dataset.label}: zero rows", "The latest batch wrote zero rows."
    else:
        late = reading.lateness.total_seconds() / 60
        title = f"{dataset.label} {late:.0f} min late"
        why = f"The next batch is {late:.1f} min overdue (SLA {sla_min:g} min)."
    return Finding(
        severity,
        title,
        why,
        {
            "dataset": dataset.name,
            "latest_at": reading.latest_at.isoformat() if reading.latest_at else None,
            "lateness_seconds": _seconds(reading.lateness),
            "sla_seconds": dataset.sla.total_seconds(),
            "rows": reading.rows,
        },
    )


def pipeline_finding(late: list[str], *, several: int) -> Finding | None:
    """Several datasets late at once: page (§3.7)."""
    if len(late) < several:
        return None
    return Finding(
        "HIGH",
        f"{len(late)} datasets late",
        "Several datasets are past their freshness SLA at once: " + ", ".join(late) + ".",
        {"late": late},
    )


def dropout_finding(devices: int, *, slack: int, page: int) -> Finding | None:
    """Devices in FULL_DROPOUT: > `slack` alarms (§3.6), > `page` pages (§3.7)."""
    if devices <= slack:
        return None
    severity = "HIGH" if devices > page else "MEDIUM"
    return Finding(
        severity,
        f"{devices} devices in full dropout",
        f"{devices} active devices sent no reading in the last hour (alarm above {slack}, "
        f"page above {page}): look for a site, network or firmware cause.",
        {"devices": devices, "slack": slack, "page": page},
    )


# ---------------------------------------------------------------- readers


def _readings(table: str, marker: str, *, now: datetime, sla: timedelta) -> Reading:
    """Newest `marker` and rows with a marker within the SLA, looking at recent chunks only
    (pruned on timestamp_utc, the hypertable's time column); over two days only when the
    recent ones hold no such row (e.g. a gateway uploading hours of buffered readings)."""
    sql = f"""SELECT max({marker}), count(*) FILTER (WHERE {marker} >= %(since)s)
              FROM {table}
              WHERE timestamp_utc >= %(start)s AND timestamp_utc <= %(now)s
                AND {marker} <= %(now)s"""
    params = {"since": now - sla, "now": now}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "start": now - max(4 * sla, timedelta(minutes=10))})
        latest, rows = cursor.fetchone()
        if not rows:
            cursor.execute(sql, {**params, "start": now - timedelta(days=2)})
            latest, rows = cursor.fetchone()
    return Reading(latest, lateness_of(now=now, marker=latest, interval=timedelta(0)), rows)


def _features(minutes: int, *, now: datetime, interval: timedelta) -> Reading:
    windows = DeviceFeatures.objects.filter(window_duration_minutes=minutes, window_end__lte=now)
    latest = windows.aggregate(latest=Max("window_end"))["latest"]
    rows = windows.filter(window_end=latest).count() if latest else 0
    return Reading(latest, lateness_of(now=now, marker=latest, interval=interval), rows)


def _scores(*, now: datetime, interval: timedelta) -> Reading:
    run = infra_readers.latest_completed_run(now=now)
    if run is None:
        return Reading(None, None, 0)
    return Reading(
        run.window_end,
        lateness_of(now=now, marker=run.window_end, interval=interval),
        run.rows_written,
    )


def _alerts(*, now: datetime) -> Reading:
    run = infra_readers.latest_completed_run(now=now)
    if run is None:
        return Reading(None, None, None)
    done = run.alerted_at if run.alerted_at and run.alerted_at <= now else now
    return Reading(run.alerted_at, max(timedelta(0), done - run.finished_at), None)


def dataset_reading(dataset: Dataset, *, now: datetime) -> Reading:
    if dataset.name == "raw_sensor_readings":
        return _readings("raw_sensor_readings", "timestamp_ingested", now=now, sla=dataset.sla)
    if dataset.name == "clean_sensor_readings":
        return _readings("clean_sensor_readings", "timestamp_utc", now=now, sla=dataset.sla)
    if dataset.feature_store:
        minutes = int(dataset.name.rsplit("_", 1)[1])
        return _features(minutes, now=now, interval=dataset.interval)
    if dataset.name == "model_scores":
        return _scores(now=now, interval=dataset.interval)
    return _alerts(now=now)


def full_dropout_devices() -> int:
    return Device.objects.filter(is_active=True, dropout_state=DropoutState.FULL_DROPOUT).count()


# ---------------------------------------------------------------- the run


def freshness_findings(
    readings: dict[str, Reading], *, dropout: int
) -> dict[str, dict[str, Finding | None]]:
    """monitor -> subject -> finding for a set of dataset readings (pure)."""
    critical_after = timedelta(minutes=knob("FLEETMON_FEATURE_STORE_CRITICAL_MINUTES"))
    per_dataset = {
        name: dataset_finding(BY_NAME[name], reading, critical_after=critical_after)
        for name, reading in readings.items()
    }
    late = [name for name, finding in per_dataset.items() if finding is not None]
    return {
        "dataset_stale": per_dataset,
        "pipeline_late": {
            "pipeline": pipeline_finding(late, several=knob("FLEETMON_FRESHNESS_SEVERAL_LATE"))
        },
        "fleet_dropout": {
            "fleet": dropout_finding(
                dropout,
                slack=knob("FLEETMON_DROPOUT_SLACK_DEVICES"),
                page=knob("FLEETMON_DROPOUT_PAGE_DEVICES"),
            )
        },
    }


def freshness_check(*, now: datetime) -> dict[str, int]:
    """Read every dataset, store the checks (for the heatmap), raise and clear."""
    from monitoring.infra.service import settle

    readings = {d.name: dataset_reading(d, now=now) for d in DATASETS}
    results = freshness_findings(readings, dropout=full_dropout_devices())
    FreshnessCheck.objects.bulk_create(
        FreshnessCheck(
            dataset=name,
            checked_at=now,
            latest_at=reading.latest_at,
            lateness_seconds=_seconds(reading.lateness),
            sla_seconds=BY_NAME[name].sla.total_seconds(),
            rows=reading.rows,
            fresh=results["dataset_stale"][name] is None,
            severity=(results["dataset_stale"][name] or Finding("", "")).severity,
        )
        for name, reading in readings.items()
    )
    totals = {"raised": 0, "cleared": 0}
    for monitor, per_subject in results.items():
        outcome = settle(monitor, per_subject, now=now)
        totals = {k: totals[k] + outcome[k] for k in totals}
    _pause_scoring_while_features_are_stale(results["dataset_stale"])
    cutoff = now - timedelta(days=knob("FLEETMON_FRESHNESS_RETENTION_DAYS"))
    FreshnessCheck.objects.filter(checked_at__lt=cutoff).delete()
    late = sum(1 for f in results["dataset_stale"].values() if f is not None)
    logger.info("freshness: %d of %d datasets late; %s", late, len(readings), totals)
    return {"written": len(readings), "late": late, **totals}


def _pause_scoring_while_features_are_stale(findings: dict[str, Finding | None]) -> None:
    """§3.7: a CRITICAL feature store pauses batch scoring until it is fresh again."""
    from scoring.pause import scoring_pause, scoring_resume

    stale = sorted(
        name
        for name, finding in findings.items()
        if finding is not None and finding.severity == "CRITICAL" and BY_NAME[name].feature_store
    )
    if stale:
        scoring_pause(f"feature store stale: {', '.join(stale)}")
    elif scoring_resume():
        logger.info("feature store fresh again: scheduled scoring resumed")


def worst(severities: list[str]) -> str | None:
    ranked = [s for s in severities if s]
    return max(ranked, key=lambda s: SEVERITY_RANK[s]) if ranked else None
