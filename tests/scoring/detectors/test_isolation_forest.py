"""Fleet Isolation Forest: calibrated scores, the 5 % flag rate, gross anomalies."""

import numpy as np
import pytest

from scoring.detectors.calibration import ScoreCalibration
from scoring.detectors.isolation_forest import IsolationForestDetector
from scoring.features import FEATURE_NAMES
from tests.scoring.detectors.synthetic import feature_frame, vibration_spike

RAW = {"context_guard_z": 0, "ambient_relative": False}
VIBRATION_OR_CURRENT = tuple(n for n in FEATURE_NAMES if n.startswith(("vibration_", "current_")))


@pytest.fixture(scope="module")
def training():
    return feature_frame(100, 30, seed=1)


@pytest.fixture(scope="module")
def detector(training):
    # The forest alone, on the raw features: the synthetic door and ambient are drawn afresh
    # for every window, with no physics between them and the rest, so the context guard and
    # the ambient-relative view (tests/scoring/detectors/test_context_guard.py) stay off.
    return IsolationForestDetector(params={"n_estimators": 100, **RAW}).fit(training)


def test_defaults_follow_the_domain():
    detector = IsolationForestDetector()
    assert detector.threshold == 0.7
    assert detector.feature_names == FEATURE_NAMES
    assert detector.params["n_estimators"] == 200
    assert detector.params["contamination"] == 0.05
    assert detector.params["random_state"] == 42


def test_about_five_percent_of_training_rows_are_flagged(detector, training):
    rate = detector.score(training).anomaly_flag.mean()
    assert 0.03 <= rate <= 0.07


def test_the_typical_training_row_scores_well_below_the_threshold(detector, training):
    median = np.median(detector.score(training).anomaly_score)
    assert 0.3 <= median <= 0.4


def test_a_gross_anomaly_scores_high_with_vibration_and_current_on_top(detector):
    normal = feature_frame(100, 2, seed=2)
    spiked = detector.score(vibration_spike(normal))
    # TRICKY: 8 of 44 features move, so Isolation Forest separates the spike from the
    # most unusual normal windows only most of the time: assert the bulk, not every row.
    assert np.median(spiked.anomaly_score) > 0.85
    assert (spiked.anomaly_score > 0.85).mean() >= 0.9
    assert spiked.anomaly_flag.all()
    for names in spiked.top_contributors:
        assert names[0].startswith("vibration_")
        assert set(names[:3]) <= set(VIBRATION_OR_CURRENT)


def test_an_injected_anomaly_outscores_every_normal_row_in_its_batch(detector):
    batch = feature_frame(100, 1, seed=3)
    batch.iloc[[17]] = vibration_spike(batch.iloc[[17]])
    result = detector.score(batch)
    assert int(np.argmax(result.anomaly_score)) == 17
    assert result.anomaly_score[17] > 0.85


def test_a_failure_across_several_sensors_reaches_critical(detector):
    failing = vibration_spike(feature_frame(10, 1, seed=4))
    for name in ("temp_evaporator_mean", "temp_evaporator_min", "temp_evaporator_max"):
        failing[name] += 25.0
    for name in ("pressure_low_mean", "pressure_low_min"):
        failing[name] *= 0.3
    scores = detector.score(failing).anomaly_score
    assert np.median(scores) > 0.95 and (scores > 0.9).all()


def test_contributor_scores_are_distances_in_training_stds(detector, training):
    row = training.iloc[[0]].copy()
    stats = detector.training_statistics()["vibration_compressor_max"]
    row["vibration_compressor_max"] = stats["mean"] + 10 * stats["std"]
    result = detector.score(row)
    assert result.top_contributors[0][0] == "vibration_compressor_max"
    assert result.contributor_scores[0][0] == pytest.approx(10.0)


def test_raw_score_is_the_forest_anomaly_score(detector, training):
    result = detector.score(training.iloc[:20])
    values = training[list(FEATURE_NAMES)].iloc[:20].to_numpy()
    expected = -detector._forest.forest.score_samples(values)
    assert np.allclose(result.raw_score, expected)
    # The calibration is monotone: ranking by score equals ranking by raw score.
    assert np.array_equal(np.argsort(result.raw_score), np.argsort(result.anomaly_score))


def test_calibration_maps_training_quantiles_onto_fixed_scores():
    raw = np.random.default_rng(0).normal(0.45, 0.03, 20_000)
    calibration = ScoreCalibration.fit(raw, contamination=0.05, threshold=0.7)
    q = np.quantile(raw, [0.5, 0.95, 0.99, 0.999])
    assert calibration.apply(q) == pytest.approx([0.35, 0.7, 0.85, 0.9])
    assert calibration.apply(np.array([raw.min() - 1.0]))[0] == 0.0
    tail = calibration.apply(np.array([q[-1] + 0.01, q[-1] + 0.05, q[-1] + 10.0]))
    assert 0.9 < tail[0] < tail[1] < 1.0
    assert tail[2] == pytest.approx(1.0)


def test_calibration_is_monotone_and_bounded_even_on_tied_training_scores():
    calibration = ScoreCalibration.fit(np.full(50, 0.5), contamination=0.05, threshold=0.7)
    grid = np.linspace(0.0, 2.0, 2001)
    scores = calibration.apply(grid)
    assert np.all(np.diff(scores) >= 0)
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_huge_values_score_like_any_value_past_the_training_range(detector, training):
    row = training.iloc[[0]].copy()
    row["vibration_compressor_max"] = 1e6
    huge = row.copy()
    huge["vibration_compressor_max"] = 1e300
    assert detector.score(huge).anomaly_score[0] == detector.score(row).anomaly_score[0]


def test_a_custom_feature_subset_is_used(training):
    names = ("temp_evaporator_mean", "vibration_compressor_max", "current_compressor_max")
    detector = IsolationForestDetector(feature_names=names, params={"n_estimators": 30})
    result = detector.fit(training[["device_id", *names]]).score(training[["device_id", *names]])
    assert {n for row in result.top_contributors for n in row} <= set(names)
    assert list(detector.training_statistics()) == list(names)
