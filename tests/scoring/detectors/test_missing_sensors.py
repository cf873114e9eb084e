"""Cohorts whose units lack whole sensors (no vibration, no humidity) train and score.

C4 imputation would exclude every window of such a cohort (no cohort median exists), so
training stores the fleet median as the cohort's fill (`compute_fill_values`); a feature
nobody reports is left out of the model (`observed_features`).
"""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors.cohort import CohortIsolationForestDetector
from scoring.detectors.isolation_forest import IsolationForestDetector
from scoring.detectors.statistical import StatisticalBaselineDetector
from scoring.detectors.trend import DailyBaselineDetector
from scoring.features import FEATURE_NAMES
from scoring.model_input import compute_fill_values, impute, observed_features
from tests.scoring.detectors.synthetic import add_derived, feature_frame

ABSENT = [n for n in FEATURE_NAMES if n.startswith(("vibration_", "humidity_"))]
KINDS = [
    IsolationForestDetector,
    StatisticalBaselineDetector,
    CohortIsolationForestDetector,
    DailyBaselineDetector,
]


def without_sensors(frame: pd.DataFrame, cohort: str) -> pd.DataFrame:
    """The frame with the vibration and humidity features of `cohort` all null."""
    out = frame.copy()
    out.loc[out["cohort_id"] == cohort, ABSENT] = np.nan
    return out


@pytest.fixture(scope="module")
def training():
    # 40 walk-in freezers with every sensor, 40 older display cases without two of them.
    frame = feature_frame(80, 12, seed=3, cohorts=("walk_in", "display"))
    return without_sensors(frame, "display")


def test_fill_values_give_a_lacking_cohort_the_fleet_median_and_keep_its_own_medians(training):
    fill = compute_fill_values(training, list(FEATURE_NAMES))
    walk_ins = training[training["cohort_id"] == "walk_in"]
    displays = training[training["cohort_id"] == "display"]
    assert fill["display"]["vibration_compressor_max"] == pytest.approx(
        walk_ins["vibration_compressor_max"].median()
    )
    assert fill["display"]["temp_evaporator_mean"] == pytest.approx(
        displays["temp_evaporator_mean"].median()
    )
    kept, excluded = impute(training, list(FEATURE_NAMES), cohort_medians=fill)
    assert excluded.empty and len(kept) == len(training)


def test_a_feature_nobody_reports_is_left_out():
    frame = feature_frame(4, 3, seed=1)
    frame["humidity_mean"] = np.nan
    assert "humidity_mean" not in observed_features(frame, list(FEATURE_NAMES))
    assert len(observed_features(frame, list(FEATURE_NAMES))) == len(FEATURE_NAMES) - 1


@pytest.mark.parametrize("detector_class", KINDS, ids=lambda c: c.kind)
def test_every_kind_trains_and_scores_a_cohort_without_vibration_and_humidity(
    training, detector_class
):
    features = observed_features(training, list(detector_class.default_features))
    fill = compute_fill_values(training, features)
    ready, _ = impute(training, features, cohort_medians=fill)
    detector = detector_class(feature_names=features).fit(ready)

    healthy = without_sensors(
        feature_frame(80, 1, seed=11, cohorts=("walk_in", "display")), "display"
    )
    broken = healthy.copy()
    # A display case that stopped cooling: the coil sits 25 °C warmer than it should.
    for name in (
        "temp_evaporator_mean",
        "temp_evaporator_min",
        "temp_evaporator_max",
        "temp_evaporator_running_median",
        "temp_evaporator_running_median_6h",
    ):
        broken.loc[broken["cohort_id"] == "display", name] += 25.0
    add_derived(broken)
    scored = {}
    for label, frame in (("healthy", healthy), ("broken", broken)):
        rows, excluded = impute(frame, features, cohort_medians=fill)
        assert excluded.empty
        scored[label] = detector.score(rows)

    display = (healthy["cohort_id"] == "display").to_numpy()
    # No flood of false alarms from the missing sensors, and the broken cases stand out.
    assert scored["healthy"].anomaly_flag[display].mean() <= 0.1
    separation = (
        scored["broken"].anomaly_score[display].mean()
        - scored["healthy"].anomaly_score[display].mean()
    )
    assert separation > 0.2
    if detector_class.kind in ("statistical_baseline", "daily_baseline"):
        assert scored["broken"].anomaly_flag[display].all()
    # A sensor the unit lacks is never named as a reason where the model compares a cohort
    # with itself (the fill is constant there); the fleet forest's contributors are z-scores
    # against the whole fleet, where the fill is the median: near 0, but not exactly.
    if detector_class.kind != "isolation_forest":
        for row, in_display in zip(scored["healthy"].top_contributors, display, strict=True):
            if in_display:
                assert not set(row) & set(ABSENT), row
