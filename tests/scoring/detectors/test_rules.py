"""Rules fallback (domain §4.5): fixed limits, flag only, robust to missing values."""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors.rules import LIMIT_COLUMNS, RulesFallbackDetector, limits_from_ranges

LIMITS = {
    "temp_evaporator_mean": (0.0, +1),
    "vibration_compressor_max": (20.0, +1),
    "pressure_low_mean": (100.0, -1),
    "current_compressor_max": (35.0, +1),
}


def windows(*rows, defrost=0.0):
    """Rows of (evap_mean, vib_max, lp_mean, cur_max) as a scoring frame."""
    frame = pd.DataFrame(rows, columns=list(LIMITS), dtype="float64")
    frame.insert(0, "device_id", [f"REF-TEST-{i:05d}" for i in range(len(rows))])
    frame["defrost_active_fraction"] = defrost
    return frame


ANOMALOUS = (5.0, 25.0, 80.0, 38.0)  # the §6 fallback fixture
NORMAL = (-22.0, 4.0, 210.0, 14.0)


def test_the_anomalous_fixture_is_flagged_on_every_rule():
    result = RulesFallbackDetector().score(windows(ANOMALOUS))
    assert result.anomaly_flag.tolist() == [True]
    assert set(result.top_contributors[0]) == set(LIMITS)
    assert result.raw_score[0] == 4.0


def test_the_normal_fixture_is_not_flagged():
    result = RulesFallbackDetector().score(windows(NORMAL))
    assert result.anomaly_flag.tolist() == [False]
    assert result.top_contributors == [[]]
    assert result.contributor_scores == [[]]


def test_the_score_is_always_zero_and_the_threshold_is_zero():
    result = RulesFallbackDetector().score(windows(ANOMALOUS, NORMAL))
    # TRICKY: flagged with score 0.0 > threshold 0.0 being false: the rules set the flag.
    assert result.anomaly_score.tolist() == [0.0, 0.0]
    assert result.threshold == 0.0
    assert result.anomaly_flag.tolist() == [True, False]


@pytest.mark.parametrize("feature", list(LIMITS))
def test_each_rule_fires_only_strictly_past_its_limit(feature):
    limit, direction = LIMITS[feature]
    position = list(LIMITS).index(feature)
    rows = []
    for offset in (-0.01, 0.0, +0.01):
        row = list(NORMAL)
        row[position] = limit + direction * offset
        rows.append(tuple(row))
    result = RulesFallbackDetector().score(windows(*rows))
    assert result.anomaly_flag.tolist() == [False, False, True]
    assert result.top_contributors[2] == [feature]


def test_contributors_are_ranked_by_relative_excess():
    # Vibration 50 % past its limit, current ~14 %, low-side pressure 20 %.
    result = RulesFallbackDetector().score(windows((-22.0, 30.0, 80.0, 40.0)))
    assert result.top_contributors[0] == [
        "vibration_compressor_max",
        "pressure_low_mean",
        "current_compressor_max",
    ]
    assert result.contributor_scores[0] == pytest.approx([0.5, 0.2, 5 / 35])


def test_a_zero_limit_measures_excess_in_units():
    result = RulesFallbackDetector().score(windows((2.5, 4.0, 210.0, 14.0)))
    assert result.contributor_scores[0] == [2.5]


def test_missing_values_do_not_fire_and_do_not_crash():
    result = RulesFallbackDetector().score(
        windows((np.nan, 25.0, np.nan, np.nan), (np.nan, np.nan, np.nan, np.nan))
    )
    assert result.anomaly_flag.tolist() == [True, False]
    assert result.top_contributors == [["vibration_compressor_max"], []]


def test_a_single_sensor_is_enough():
    frame = windows((np.nan, 25.0, np.nan, np.nan)).drop(columns=["defrost_active_fraction"])
    detector = RulesFallbackDetector(
        params={"suppress_temperature_during_defrost": False},
        feature_names=list(LIMITS),
    )
    assert detector.score(frame).anomaly_flag.tolist() == [True]


def test_defrost_suppresses_only_the_temperature_rule():
    result = RulesFallbackDetector().score(windows((5.0, 4.0, 210.0, 14.0), ANOMALOUS, defrost=0.2))
    assert result.anomaly_flag.tolist() == [False, True]
    assert "temp_evaporator_mean" not in result.top_contributors[1]
    unsuppressed = RulesFallbackDetector(params={"suppress_temperature_during_defrost": False})
    assert unsuppressed.score(windows((5.0, 4.0, 210.0, 14.0), defrost=0.2)).anomaly_flag[0]


def test_an_unknown_defrost_state_does_not_suppress():
    assert (
        RulesFallbackDetector()
        .score(windows((5.0, 4.0, 210.0, 14.0), defrost=np.nan))
        .anomaly_flag[0]
    )


def test_limits_are_params():
    detector = RulesFallbackDetector(params={"vibration_compressor_max_above": 3.0})
    assert detector.score(windows(NORMAL)).top_contributors == [["vibration_compressor_max"]]


def test_it_scores_without_fitting_and_fit_only_records_statistics():
    detector = RulesFallbackDetector()
    before = detector.score(windows(ANOMALOUS, NORMAL)).anomaly_flag
    assert not detector.fitted
    training = windows(NORMAL, (np.nan, 5.0, 190.0, 15.0), NORMAL, NORMAL)
    detector.fit(training)
    assert detector.fitted
    assert np.array_equal(detector.score(windows(ANOMALOUS, NORMAL)).anomaly_flag, before)
    stats = detector.training_statistics()
    assert stats["temp_evaporator_mean"]["null_rate"] == 0.25
    assert stats["temp_evaporator_mean"]["mean"] == -22.0
    assert stats["vibration_compressor_max"]["max"] == 5.0


def test_a_rule_feature_cannot_be_left_out():
    with pytest.raises(ValueError, match="pressure_low_mean"):
        RulesFallbackDetector(feature_names=["temp_evaporator_mean", "defrost_active_fraction"])


# ---------------------------------------------------------------- per-device limits


def test_limits_from_ranges_take_the_high_end_or_the_low_side_floor():
    ranges = {
        "temperature_evaporator": (-15.0, 5.0),
        "pressure_low_side": (150.0, 700.0),
        "humidity": (40.0, 95.0),  # no rule reads humidity
    }
    assert limits_from_ranges(ranges) == {
        "temp_evaporator_mean_above": 5.0,
        "pressure_low_mean_below": 150.0,
    }


def test_a_row_limit_replaces_the_default_and_nan_keeps_it():
    # A medium-temperature case at -2 °C evaporator mean: past §4.5's 0 °C? No; past its
    # own +5 °C? No. A freezer at -2 °C: past its -10 °C limit. No profile: the 0 °C default.
    frame = windows((-2.0, 4.0, 210.0, 14.0), (-2.0, 4.0, 210.0, 14.0), (1.0, 4.0, 210.0, 14.0))
    frame[LIMIT_COLUMNS["temp_evaporator_mean_above"]] = [5.0, -10.0, np.nan]

    result = RulesFallbackDetector().score(frame)

    assert result.anomaly_flag.tolist() == [False, True, True]
    assert result.top_contributors[1] == ["temp_evaporator_mean"]
    assert result.contributor_scores[1] == [pytest.approx(8.0 / 10.0)]


def test_a_row_limit_below_the_default_fires_on_lower_values():
    frame = windows((-22.0, 4.0, 210.0, 12.0))
    frame[LIMIT_COLUMNS["current_compressor_max_above"]] = 10.0  # a 2 HP unit
    assert RulesFallbackDetector().score(frame).anomaly_flag.tolist() == [True]


def test_an_infinite_row_limit_is_refused():
    frame = windows(NORMAL)
    frame[LIMIT_COLUMNS["pressure_low_mean_below"]] = -np.inf
    with pytest.raises(ValueError, match="infinite limit"):
        RulesFallbackDetector().score(frame)
