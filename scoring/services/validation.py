"""Candidate validation (D11): the regression feature set, canary reports, promotion gates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from fleetmon.sensors import IS_BOOLEAN_SENSOR, SENSOR_NAMES
from fleetmon.simulator.faults import plan_faults
from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from quality.checks.readings import Limits, batch_from_frame, check_batch, flag_names
from scoring.comparison import CANARY_GATES, REGRESSION_GATES, compare
from scoring.feature_sql import FEATURE_COLUMNS, features_select_sql
from scoring.features import FEATURE_NAMES
from scoring.model_input import impute
from scoring.models import ModelRole, ModelScore, ModelVersion, RegressionFeatures, ScoringRun

logger = logging.getLogger(__name__)

REGRESSION_DATASET = "regression_test_features_v1"
# Fixed, so the set is the same wherever and whenever it is built.
REGRESSION_SEED = 9001
REGRESSION_START = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
REGRESSION_HOURS = 3


class RegressionSetExists(RuntimeError):
    """The regression set is read-only; rebuilding it must be asked for explicitly."""


# ---------------------------------------------------------------- the regression set


def regression_set_build(*, devices: int = 1000, replace: bool = False) -> int:
    """Generate `regression_test_features_v1` once from the simulator; return its size.

    1. A separate synthetic fleet (fixed seed) with faults on about 30 % of its devices,
       so edge cases (every fault type, sensor loss, dropout) sit beside normal devices.
    2. Its readings go through the C1 -> C2 contract checks into a temporary table that
       shadows `clean_sensor_readings` for this connection only, so the features come from
       the same SQL as production features and no real table sees synthetic readings.
    3. Each device's last 15-minute window is stored with its case label.
    """
    if RegressionFeatures.objects.filter(dataset=REGRESSION_DATASET).exists() and not replace:
        raise RegressionSetExists(
            f"{REGRESSION_DATASET} already exists and is read-only; pass replace=True "
            "only when the C3 feature schema changed"
        )
    fleet = make_fleet(devices, seed=REGRESSION_SEED)
    end = REGRESSION_START + timedelta(hours=REGRESSION_HOURS)
    faults = plan_faults(fleet, seed=REGRESSION_SEED, start=REGRESSION_START, end=end, fraction=0.3)
    frame = FleetGenerator(fleet, faults, seed=REGRESSION_SEED).frame(REGRESSION_START, end)
    cases = {f.device_id: str(f.fault_type) for f in faults if f.start < end}
    cohorts = {d.device_id: f"{d.equipment_model}/{d.climate_zone}" for d in fleet.devices}
    features = _features_in_scratch(frame, end)
    last = features.sort_values("window_end").groupby("device_id").tail(1)
    rows = [
        RegressionFeatures(
            dataset=REGRESSION_DATASET,
            device_id=row["device_id"],
            cohort_id=cohorts[row["device_id"]],
            case=cases.get(row["device_id"], "normal"),
            window_start=row["window_start"],
            window_end=row["window_end"],
            values={n: (None if pd.isna(row[n]) else float(row[n])) for n in FEATURE_NAMES},
        )
        for _, row in last.iterrows()
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL fleetmon.regression_rebuild = 'on'")
        RegressionFeatures.objects.filter(dataset=REGRESSION_DATASET).delete()
        RegressionFeatures.objects.bulk_create(rows, batch_size=1000)
    logger.info("built %s: %d devices", REGRESSION_DATASET, len(rows))
    return len(rows)


def _features_in_scratch(frame: pd.DataFrame, end: datetime) -> pd.DataFrame:
    batch = batch_from_frame(frame)
    everyone = {d: (1 << 14) - 1 for d in set(batch.device_id)}
    checked = check_batch(
        batch,
        ingested_at=end,
        registry=everyone,
        already_stored=np.zeros(len(batch), dtype=bool),
        limits=Limits(),
    )
    keep = np.flatnonzero(checked.null_count < 14)
    connection.ensure_connection()
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        # TRICKY: a temporary table of the same name shadows the real one in this session
        # (pg_temp comes first in the search path), so features_select_sql reads it.
        cursor.execute(
            "CREATE TEMP TABLE clean_sensor_readings"
            " (LIKE public.clean_sensor_readings INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        columns = [
            "event_id",
            "device_id",
            "timestamp_utc",
            *SENSOR_NAMES,
            "quality_flags",
            "sensor_null_count",
        ]
        with cursor.copy(f"COPY clean_sensor_readings ({', '.join(columns)}) FROM STDIN") as copy:
            for i in keep:
                values = [None if np.isnan(v) else v for v in checked.values[i]]
                values = [
                    (None if v is None else bool(v)) if b else v
                    for v, b in zip(values, IS_BOOLEAN_SENSOR, strict=True)
                ]
                copy.write_row(
                    [
                        batch.event_id[i],
                        batch.device_id[i],
                        checked.timestamp_utc[i].astype(datetime).replace(tzinfo=UTC),
                        *values,
                        flag_names(int(checked.flags[i])),
                        int(checked.null_count[i]),
                    ]
                )
        cursor.execute(
            features_select_sql(),
            {
                "minutes": 15,
                "start": REGRESSION_START,
                "end": end,
                "device_from": "",
                "device_to": "~",
            },
        )
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))


def regression_frame() -> pd.DataFrame:
    rows = RegressionFeatures.objects.filter(dataset=REGRESSION_DATASET).order_by("device_id")
    frame = pd.DataFrame(
        [
            {
                **r.values,
                "device_id": r.device_id,
                "cohort_id": r.cohort_id,
                "window_end": r.window_end,
                "case": r.case,
            }
            for r in rows
        ]
    )
    return frame


# ---------------------------------------------------------------- reports


def _score_frame(version: ModelVersion, frame: pd.DataFrame) -> pd.DataFrame:
    from scoring.services.runs import load_detector

    detector = load_detector(version.model_id, version.artifact_sha256)
    if detector.allows_missing:
        ready = frame
    else:
        ready, _ = impute(frame, list(version.feature_names), cohort_medians=version.cohort_medians)
    result = detector.score(ready)
    return pd.DataFrame(
        {"anomaly_score": result.anomaly_score, "anomaly_flag": result.anomaly_flag},
        index=pd.Index(result.device_id, name="device_id"),
    )


def production_of(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, role=ModelRole.PRODUCTION).first()


def regression_evaluate(*, version: ModelVersion) -> dict:
    """Score the regression set with the candidate and with production; store the report."""
    frame = regression_frame()
    if frame.empty:
        report = {"passed": False, "failures": [f"{REGRESSION_DATASET} is empty; build it"]}
    else:
        candidate = _score_frame(version, frame)
        reference_version = production_of(version.kind)
        if reference_version is None or reference_version.pk == version.pk:
            report = {
                "passed": True,
                "reference": None,
                "contamination_candidate": float(candidate["anomaly_flag"].mean()),
                "note": "first production candidate of its kind: nothing to regress against",
            }
        else:
            reference = _score_frame(reference_version, frame)
            comparison = compare(candidate=candidate, reference=reference, gates=REGRESSION_GATES)
            report = {**comparison.as_dict(), "reference": reference_version.model_id}
    report["evaluated_at"] = timezone.now().isoformat()
    _store(version, "regression", report)
    return report


def canary_evaluate(*, run: ScoringRun) -> dict[str, dict]:
    """Compare every candidate that scored in `run` with its kind's production version."""
    reports = {}
    scores = pd.DataFrame(
        ModelScore.objects.filter(run_id=run.pk).values(
            "model_id", "device_id", "anomaly_score", "anomaly_flag", "deployment_role"
        )
    )
    if scores.empty:
        return reports
    versions = {
        v.model_id: v for v in ModelVersion.objects.filter(model_id__in=scores["model_id"].unique())
    }
    by_model = {m: g.set_index("device_id") for m, g in scores.groupby("model_id")}
    for model_id, version in versions.items():
        if version.role not in (ModelRole.CANARY, ModelRole.SHADOW):
            continue
        reference = production_of(version.kind)
        if reference is None or reference.model_id not in by_model:
            continue
        comparison = compare(
            candidate=by_model[model_id], reference=by_model[reference.model_id], gates=CANARY_GATES
        )
        report = {**comparison.as_dict(), "reference": reference.model_id, "run_id": run.pk}
        _store(version, "canary", report)
        reports[model_id] = report
    if reports:
        ScoringRun.objects.filter(pk=run.pk).update(comparison=reports)
    return reports


def _store(version: ModelVersion, key: str, report: dict) -> None:
    with transaction.atomic():
        fresh = ModelVersion.objects.select_for_update().get(pk=version.pk)
        fresh.validation = {**fresh.validation, key: report}
        fresh.save(update_fields=["validation"])
    version.validation = fresh.validation


def promotion_blockers(*, version: ModelVersion, now: datetime | None = None) -> list[str]:
    """Why `version` may not go to production yet (an empty list: it may)."""
    now = now or timezone.now()
    if version.kind == "rules_fallback":
        return []
    blockers = []
    regression = version.validation.get("regression")
    if regression is None:
        blockers.append("the regression feature set has not been scored")
    elif not regression["passed"]:
        blockers.append("regression: " + "; ".join(regression["failures"]))
    current = production_of(version.kind)
    if current is not None and current.pk != version.pk:
        canary = version.validation.get("canary")
        if canary is None or canary.get("reference") != current.model_id:
            blockers.append(f"no canary comparison with {current.model_id} yet")
        elif not canary["passed"]:
            blockers.append("canary: " + "; ".join(canary["failures"]))
    if version.role == ModelRole.SHADOW:
        since = version.events.filter(to_role=ModelRole.SHADOW).order_by("-at").first()
        needed = timedelta(days=settings.FLEETMON_SHADOW_DAYS)
        if since is None or now - since.at < needed:
            blockers.append(f"shadow period of {settings.FLEETMON_SHADOW_DAYS} days not over")
    return blockers
