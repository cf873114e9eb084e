"""Candidate validation (D11): the regression feature set, canary reports, promotion gates."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from fleetmon.sensors import IS_BOOLEAN_SENSOR, SENSOR_NAMES
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
REGRESSION_WINDOW_MINUTES = 15  # each device's last window of this length is stored


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
    # Imported here: training, validation and bootstrap must not depend on the simulator
    # importing cleanly; only building the set needs it.
    from fleetmon.simulator.faults import plan_faults
    from fleetmon.simulator.fleet import make_fleet
    from fleetmon.simulator.generator import FleetGenerator

    fleet = make_fleet(devices, seed=REGRESSION_SEED)
    end = REGRESSION_START + timedelta(hours=REGRESSION_HOURS)
    faults = plan_faults(fleet, seed=REGRESSION_SEED, start=REGRESSION_START, end=end, fraction=0.3)
    frame = FleetGenerator(fleet, faults, seed=REGRESSION_SEED).frame(REGRESSION_START, end)
    # A device's case is the fault active in its stored (last) window; one that ended
    # before it is neither an anomaly nor normal there, so it is labelled apart.
    last_start = end - timedelta(minutes=REGRESSION_WINDOW_MINUTES)
    cases = {
        f.device_id: str(f.fault_type) if f.end > last_start else f"after:{f.fault_type}"
        for f in faults
        if f.start < end
    }
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
                "minutes": REGRESSION_WINDOW_MINUTES,
                "start": REGRESSION_START,
                "end": end,
                "device_from": "",
                "device_to": "~",
                "running_amps": settings.FLEETMON_RUNNING_CURRENT_A,
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
    """Score the regression set with the candidate and with production; store the report.

    The candidate's own flags on the set's labelled cases also go through the known-anomaly
    gate (`known_anomalies_check`), stored beside the regression report.
    """
    frame = regression_frame()
    if version.window_minutes != REGRESSION_WINDOW_MINUTES:
        report = {
            "passed": True,
            "reference": None,
            "note": f"not applicable: {REGRESSION_DATASET} holds {REGRESSION_WINDOW_MINUTES}-"
            f"minute windows and this model scores {version.window_minutes}-minute ones",
        }
    elif frame.empty:
        report = {"passed": False, "failures": [f"{REGRESSION_DATASET} is empty; build it"]}
    else:
        candidate = _score_frame(version, frame)
        _store(version, "known_anomalies", _known_anomalies_report(version, frame, candidate))
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


# ---------------------------------------------------------------- the known-anomaly gate


@dataclass(frozen=True)
class KnownAnomalyGate:
    """Limits of the known-anomaly gate: which cases are visible anomalies, and how clearly
    a model must flag them (settings FLEETMON_VALIDATION_*)."""

    anomaly_cases: frozenset[str]
    min_cases: int
    min_lift: float
    min_z: float

    @classmethod
    def from_settings(cls) -> KnownAnomalyGate:
        """Return the gate configured in settings."""
        return cls(
            anomaly_cases=frozenset(settings.FLEETMON_VALIDATION_ANOMALY_CASES),
            min_cases=settings.FLEETMON_VALIDATION_MIN_ANOMALY_CASES,
            min_lift=settings.FLEETMON_VALIDATION_MIN_LIFT,
            min_z=settings.FLEETMON_VALIDATION_MIN_Z,
        )


def known_anomalies_check(*, cases: pd.Series, flags: pd.Series, gate: KnownAnomalyGate) -> dict:
    """Judge whether a model flags visible anomalies clearly more often than normal windows.

    A flag rate on healthy windows says nothing by itself: a quiet model is a good one as
    long as it still sees real faults. So:

    1. Rows labelled `normal` are the healthy reference; rows whose case is one of
       `gate.anomaly_cases` (faults whose signature shows within one 15-minute window) are
       the anomalies. Other cases (slow faults hours into their onset, dropouts) are
       reported but not judged: they need not show in one window yet.
    2. With fewer than `gate.min_cases` anomaly rows, or no normal row, nothing is judged:
       the report passes and says why (a small set cannot tell a blind model from noise).
    3. Otherwise the model passes when its anomaly flag rate exceeds its normal flag rate by
       at least `gate.min_lift` (absolute) and a one-sided two-proportion z-test of that
       difference reaches `gate.min_z`: clearly, not by chance.

    `cases` and `flags` are aligned Series (one row per scored window).
    """
    flags = flags.astype(bool)
    by_case = {
        str(case): {"windows": int(len(group)), "flag_rate": float(group.mean())}
        for case, group in flags.groupby(cases.astype(str), sort=True)
    }
    anomaly = flags[cases.isin(gate.anomaly_cases).to_numpy()]
    normal = flags[(cases == "normal").to_numpy()]
    report: dict = {
        "anomaly_windows": int(len(anomaly)),
        "normal_windows": int(len(normal)),
        "anomaly_flag_rate": float(anomaly.mean()) if len(anomaly) else None,
        "normal_flag_rate": float(normal.mean()) if len(normal) else None,
        "min_lift": gate.min_lift,
        "min_z": gate.min_z,
        "anomaly_cases": sorted(gate.anomaly_cases),
        "by_case": by_case,
        "failures": [],
    }
    if len(anomaly) < gate.min_cases or not len(normal):
        report |= {
            "judged": False,
            "passed": True,
            "note": (
                f"not judged: {len(anomaly)} windows of the anomaly cases and {len(normal)} "
                f"normal ones (needs {gate.min_cases} and 1); check "
                "FLEETMON_VALIDATION_ANOMALY_CASES against the set's case labels"
            ),
        }
        return report
    lift = report["anomaly_flag_rate"] - report["normal_flag_rate"]
    z = _two_proportion_z(anomaly, normal)
    report |= {"judged": True, "lift": lift, "z": z}
    if lift < gate.min_lift or z < gate.min_z:
        report["failures"].append(
            f"flags {report['anomaly_flag_rate']:.0%} of {len(anomaly)} known anomaly windows "
            f"and {report['normal_flag_rate']:.0%} of {len(normal)} normal ones: lift "
            f"{lift:+.0%} (needs {gate.min_lift:+.0%}), z {z:.1f} (needs {gate.min_z:.1f})"
        )
    report["passed"] = not report["failures"]
    return report


def _two_proportion_z(anomaly: pd.Series, normal: pd.Series) -> float:
    """One-sided z of (anomaly rate - normal rate) with the pooled standard error."""
    n1, n2 = len(anomaly), len(normal)
    pooled = (anomaly.sum() + normal.sum()) / (n1 + n2)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    difference = anomaly.mean() - normal.mean()
    if error == 0:
        # Pooled rate 0 or 1: every window was flagged alike, so there is no difference.
        return 0.0
    return float(difference / error)


def _known_anomalies_report(
    version: ModelVersion, frame: pd.DataFrame, scored: pd.DataFrame
) -> dict:
    """The known-anomaly gate on the candidate's regression-set flags (15-minute models)."""
    if version.window_minutes != 15:
        return {
            "passed": True,
            "judged": False,
            "failures": [],
            "note": f"not judged: the regression set holds 15-minute windows, the model "
            f"scores {version.window_minutes}-minute ones",
        }
    cases = frame.set_index("device_id")["case"]
    flags = scored["anomaly_flag"]
    report = known_anomalies_check(
        cases=cases.loc[flags.index], flags=flags, gate=KnownAnomalyGate.from_settings()
    )
    report["unscored_windows"] = int(len(frame) - len(flags))
    report["evaluated_at"] = timezone.now().isoformat()
    if not report["judged"]:
        logger.warning("%s: known-anomaly gate %s", version.model_id, report["note"])
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
    # Versions trained before the known-anomaly gate existed have no report: nothing to hold.
    known = version.validation.get("known_anomalies")
    if known is not None and not known["passed"]:
        blockers.append("known anomalies: " + "; ".join(known["failures"]))
    current = production_of(version.kind)
    if current is not None and current.pk != version.pk:
        canary = version.validation.get("canary")
        if canary is None or canary.get("reference") != current.model_id:
            blockers.append(f"no canary comparison with {current.model_id} yet")
        elif not canary["passed"]:
            blockers.append("canary: " + "; ".join(canary["failures"]))
        # The detection gate (monitoring/detection/gate.py) stores its report here: a
        # candidate that detects worse than production on the gate's fixed fleet stays out.
        detection = version.validation.get("detection")
        if settings.FLEETMON_DETECTION_GATE_ENABLED and detection is None:
            blockers.append(f"no detection scorecard beside {current.model_id} yet")
        elif detection is not None and not detection["passed"]:
            blockers.append("detection: " + "; ".join(detection["failures"]))
    if version.role == ModelRole.SHADOW:
        since = version.events.filter(to_role=ModelRole.SHADOW).order_by("-at").first()
        needed = timedelta(days=settings.FLEETMON_SHADOW_DAYS)
        if since is None or now - since.at < needed:
            blockers.append(f"shadow period of {settings.FLEETMON_SHADOW_DAYS} days not over")
    return blockers
