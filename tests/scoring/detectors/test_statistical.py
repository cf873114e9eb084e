"""Statistical baseline: per-device z-scores, with cohort and fleet fallbacks."""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors.statistical import StatisticalBaselineDetector
from scoring.features import STATISTICAL_FEATURES
from tests.scoring.detectors.synthetic import feature_frame

FEATURE = "pressure_low_mean"
MODE = "defrost_active_fraction"


@pytest.fixture(scope="module")
def training():
    return feature_frame(20, 16, seed=1, cohorts=("walk_in", "display"))


@pytest.fixture(scope="module")
def detector(training):
    # No shrinkage of device spreads and no ambient adjustment, so z is exactly "own stds";
    # see the shrinkage test and tests/scoring/detectors/test_weather.py.
    return StatisticalBaselineDetector(
        params={"std_prior_windows": 0, "z_at_threshold": 3.0, "ambient_adjusted": False}
    ).fit(training)


def own_normal(training, device_id):
    """One window at the device's own training mean (outside defrost), as a scoring frame."""
    rows = training[(training["device_id"] == device_id) & (training[MODE] == 0)]
    window = rows[list(STATISTICAL_FEATURES)].mean().to_frame().T
    window[MODE] = 0.0
    return window.assign(device_id=device_id, cohort_id=rows["cohort_id"].iloc[0]), rows


def test_defaults_follow_the_domain():
    detector = StatisticalBaselineDetector()
    assert detector.feature_names == (*STATISTICAL_FEATURES, MODE)
    assert detector.params["min_device_windows"] == 8
    assert detector.threshold == 0.7


def test_score_is_the_threshold_at_three_sigma():
    detector = StatisticalBaselineDetector(params={"z_at_threshold": 3.0})
    z = np.array([0.0, 2.0, 3.0, 4.0, 6.0])
    scores = -np.expm1(-((z / detector.scale) ** 2))
    assert scores[2] == pytest.approx(0.7)
    assert scores[0] == 0.0 and scores[1] < 0.5 and scores[3] > 0.85 and scores[4] > 0.99


def test_a_device_at_its_own_normal_scores_low(detector, training):
    window, _ = own_normal(training, "REF-TEST-00003")
    result = detector.score(window)
    assert result.anomaly_score[0] < 0.5
    assert not result.anomaly_flag[0]


def test_a_device_four_own_stds_off_on_one_feature_is_flagged_with_it_first(detector, training):
    window, rows = own_normal(training, "REF-TEST-00003")
    own_std = rows[FEATURE].std(ddof=1)
    assert own_std > 0.05 * abs(rows[FEATURE].mean())  # the std floor is not in play
    window[FEATURE] += 4 * own_std
    result = detector.score(window)
    assert result.anomaly_score[0] > 0.7
    assert result.anomaly_flag[0]
    assert result.top_contributors[0][0] == FEATURE
    assert result.contributor_scores[0][0] == pytest.approx(4.0)
    assert result.raw_score[0] == pytest.approx(4.0)


def test_a_value_normal_for_the_fleet_is_anomalous_for_the_device(detector, training):
    # A shift of 4 device stds on the evaporator is small next to the cohort-to-cohort gap.
    window, rows = own_normal(training, "REF-TEST-00003")
    window["temp_evaporator_mean"] += 4 * rows["temp_evaporator_mean"].std(ddof=1)
    assert detector.score(window).anomaly_flag[0]


def test_an_unseen_device_is_compared_with_its_cohort(detector, training):
    display = training[(training["cohort_id"] == "display") & (training[MODE] == 0)]
    window = display[list(STATISTICAL_FEATURES)].mean().to_frame().T.assign(device_id="NEW-1")
    window[MODE] = 0.0
    as_display = detector.score(window.assign(cohort_id="display"))
    as_walk_in = detector.score(window.assign(cohort_id="walk_in"))
    assert as_display.anomaly_score[0] < 0.3
    assert as_walk_in.anomaly_flag[0]
    assert as_walk_in.top_contributors[0][0].startswith(("temp_evaporator", "current_"))


def test_an_unseen_device_in_an_unseen_cohort_uses_the_fleet(detector, training):
    window = training[training[MODE] == 0][list(STATISTICAL_FEATURES)].mean().to_frame().T
    window[MODE] = 0.0
    result = detector.score(window.assign(device_id="NEW-2", cohort_id="unknown"))
    assert result.anomaly_score[0] < 0.3


def test_a_device_with_too_few_windows_uses_its_cohort(training):
    # LOW-HISTORY runs 100 kPa (~6 cohort stds) high in 5 windows: too few for its own baseline.
    few = training[training["device_id"] == "REF-TEST-00002"].iloc[:5].copy()
    few["device_id"] = "LOW-HISTORY"
    few[FEATURE] += 100.0
    detector = StatisticalBaselineDetector(params={"z_at_threshold": 3.0}).fit(
        pd.concat([training, few], ignore_index=True)
    )
    result = detector.score(few.iloc[[0]])
    assert result.anomaly_flag[0]
    assert result.top_contributors[0][0] == FEATURE
    with_history = StatisticalBaselineDetector(
        params={"min_device_windows": 5, "z_at_threshold": 3.0}
    ).fit(pd.concat([training, few], ignore_index=True))
    assert with_history.score(few.iloc[[0]]).anomaly_score[0] < 0.7


def test_a_constant_training_feature_does_not_divide_by_zero(training):
    flat = training.assign(humidity_std=0.0)
    detector = StatisticalBaselineDetector().fit(flat)
    row = flat.iloc[[0]].assign(humidity_std=0.5)
    result = detector.score(row)
    assert np.isfinite(result.raw_score).all()
    # The floor (1e-3) turns a 0.5 deviation into a huge, but finite, z.
    assert result.top_contributors[0][0] == "humidity_std"
    assert result.anomaly_score[0] == pytest.approx(1.0)


def test_defrost_windows_are_compared_with_defrost_windows(training):
    # Defrost warms the evaporator: normal for a defrost window, anomalous outside one.
    warm = training.copy()
    defrosting = warm[MODE] > 0
    warm.loc[defrosting, "temp_evaporator_mean"] += 25.0
    detector = StatisticalBaselineDetector().fit(warm)
    window = warm[defrosting & (warm["device_id"] == "REF-TEST-00003")].iloc[[0]]
    assert not detector.score(window).anomaly_flag[0]
    assert detector.score(window.assign(**{MODE: 0.0})).anomaly_flag[0]


def test_device_spreads_are_shrunk_towards_the_cohort(training):
    # A device whose few windows happen to be nearly flat would otherwise flag on noise.
    # (superheat: its mean is small, so the 5 %-of-mean std floor does not hide the effect.)
    feature = "superheat_mean"
    flat = training.copy()
    mask = flat["device_id"] == "REF-TEST-00003"
    mean = flat.loc[mask, feature].mean()
    flat.loc[mask, feature] = mean + 0.01 * (flat.loc[mask, feature] - mean)
    window, _ = own_normal(flat, "REF-TEST-00003")
    window[feature] += 1.5 * training.loc[mask, feature].std()
    raw = StatisticalBaselineDetector(params={"std_prior_windows": 0, "z_at_threshold": 3.0}).fit(
        flat
    )
    shrunk = StatisticalBaselineDetector(params={"z_at_threshold": 3.0}).fit(flat)
    assert raw.score(window).anomaly_flag[0]
    assert not shrunk.score(window).anomaly_flag[0]
