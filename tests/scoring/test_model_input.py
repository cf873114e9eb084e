"""C4 imputation (domain §2.5): own earlier window, then cohort median, then exclusion."""

import numpy as np
import pandas as pd
import pytest

from scoring.model_input import (
    FeatureMismatch,
    check_feature_names,
    compute_cohort_medians,
    impute,
)

FEATURES = ["temp_evaporator_mean", "vibration_compressor_max"]
T0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")


def windows(*rows):
    """Rows of (device, cohort, minutes after T0, evap, vib) as a C3-like frame."""
    frame = pd.DataFrame(rows, columns=["device_id", "cohort_id", "minutes", *FEATURES]).astype(
        {name: "float64" for name in FEATURES}
    )
    frame.insert(2, "window_end", T0 + pd.to_timedelta(frame.pop("minutes"), "min"))
    frame["window_end"] = frame["window_end"].astype("datetime64[ns, UTC]")
    return frame


def test_a_gap_is_filled_from_the_devices_own_earlier_window():
    frame = windows(
        ("A", "c1", 0, -20.0, 3.0),
        ("B", "c1", 0, -5.0, 9.0),
        ("A", "c1", 15, np.nan, 3.5),
        ("B", "c1", 15, -6.0, np.nan),
    )
    kept, excluded = impute(frame, FEATURES)
    assert excluded.empty
    assert kept.loc[2, "temp_evaporator_mean"] == -20.0  # A's own, not B's -5.0
    assert kept.loc[3, "vibration_compressor_max"] == 9.0


def test_forward_fill_follows_window_end_not_row_order():
    frame = windows(
        ("A", "c1", 30, np.nan, 3.0),
        ("A", "c1", 0, -21.0, 3.0),
        ("A", "c1", 15, -19.0, 3.0),
    )
    kept, _ = impute(frame, FEATURES)
    assert kept.loc[0, "temp_evaporator_mean"] == -19.0
    assert list(kept.index) == [0, 1, 2]  # the caller's order is kept


def test_a_later_window_never_fills_an_earlier_one():
    frame = windows(
        ("A", "c1", 0, np.nan, 3.0),
        ("A", "c1", 15, -19.0, 3.0),
        ("B", "c1", 0, -23.0, 3.0),
        ("C", "c1", 0, -25.0, 3.0),
    )
    kept, _ = impute(frame, FEATURES)
    # The cohort median of the observed values (-19, -23, -25), not A's later -19.
    assert kept.loc[0, "temp_evaporator_mean"] == -23.0


def test_training_cohort_medians_are_used_when_given():
    frame = windows(("A", "c1", 0, np.nan, 3.0), ("B", "c1", 0, -5.0, 3.0))
    kept, _ = impute(frame, FEATURES, cohort_medians={"c1": {"temp_evaporator_mean": -18.0}})
    assert kept.loc[0, "temp_evaporator_mean"] == -18.0


def test_integer_cohort_ids_find_their_medians_under_string_or_integer_keys():
    frame = windows(("A", 7, 0, np.nan, 3.0), ("B", None, 0, -5.0, 3.0))
    kept, excluded = impute(frame, FEATURES, cohort_medians={"7": {"temp_evaporator_mean": -18.0}})
    assert kept.loc[0, "temp_evaporator_mean"] == -18.0
    assert excluded.empty
    kept, _ = impute(frame, FEATURES, cohort_medians={7: {"temp_evaporator_mean": -17.0}})
    assert kept.loc[0, "temp_evaporator_mean"] == -17.0


def test_rows_nothing_can_fill_are_excluded_and_reported():
    frame = windows(
        ("A", "c1", 0, -20.0, 3.0),
        ("B", "c2", 0, np.nan, 3.0),  # cohort c2 has no median for evap
        ("C", None, 0, np.nan, 3.0),  # no cohort at all
        ("D", "c1", 0, -22.0, np.nan),
    )
    medians = {"c1": {"temp_evaporator_mean": -21.0, "vibration_compressor_max": 3.3}}
    kept, excluded = impute(frame, FEATURES, cohort_medians=medians)
    assert list(excluded) == [1, 2]
    assert list(kept.index) == [0, 3]
    assert kept.loc[3, "vibration_compressor_max"] == 3.3
    assert not kept[FEATURES].isna().to_numpy().any()


def test_an_all_null_frame_is_excluded_entirely():
    frame = windows(("A", "c1", 0, np.nan, np.nan), ("B", "c1", 0, np.nan, np.nan))
    kept, excluded = impute(frame, FEATURES)
    assert kept.empty
    assert list(excluded) == [0, 1]


def test_infinity_is_treated_as_missing():
    frame = windows(("A", "c1", 0, -20.0, 3.0), ("A", "c1", 15, np.inf, 3.0))
    kept, _ = impute(frame, FEATURES)
    assert kept.loc[1, "temp_evaporator_mean"] == -20.0


def test_the_input_frame_is_not_modified_and_other_columns_survive():
    frame = windows(("A", "c1", 0, -20.0, 3.0), ("A", "c1", 15, np.nan, 3.0))
    frame["sensor_completeness"] = [1.0, 0.6]
    before = frame.copy()
    kept, _ = impute(frame, FEATURES)
    pd.testing.assert_frame_equal(frame, before)
    assert list(kept.columns) == list(frame.columns)
    assert kept["window_end"].dtype == "datetime64[ns, UTC]"
    assert (kept[FEATURES].dtypes == "float64").all()


def test_missing_columns_raise_feature_mismatch():
    frame = windows(("A", "c1", 0, -20.0, 3.0)).drop(columns=["vibration_compressor_max"])
    with pytest.raises(FeatureMismatch, match="vibration_compressor_max"):
        impute(frame, FEATURES)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown imputation method 'zero'"):
        impute(windows(("A", "c1", 0, -20.0, 3.0)), FEATURES, method="zero")


def test_cohort_medians_come_from_observed_values_per_cohort():
    frame = windows(
        ("A", "c1", 0, -20.0, 3.0),
        ("B", "c1", 0, -22.0, np.nan),
        ("C", "c2", 0, np.nan, np.nan),
    )
    assert compute_cohort_medians(frame, FEATURES) == {
        "c1": {"temp_evaporator_mean": -21.0, "vibration_compressor_max": 3.0},
        "c2": {},
    }


def test_matching_feature_names_pass():
    check_feature_names(FEATURES, list(FEATURES))


def test_missing_and_extra_feature_names_are_listed():
    with pytest.raises(FeatureMismatch) as raised:
        check_feature_names(["a", "b", "c"], ["a", "c", "d"])
    message = str(raised.value)
    assert "3 expected, 3 given" in message
    assert "missing ['b']" in message
    assert "unexpected ['d']" in message


def test_misordered_feature_names_name_the_first_difference():
    with pytest.raises(FeatureMismatch, match="misordered from position 1: expected 'b', got 'c'"):
        check_feature_names(["a", "b", "c"], ["a", "c", "b"])


def test_duplicated_feature_names_are_reported():
    with pytest.raises(FeatureMismatch, match="duplicated \\['a'\\]"):
        check_feature_names(["a", "b"], ["a", "b", "a"])


def test_feature_mismatch_is_a_value_error():
    assert issubclass(FeatureMismatch, ValueError)
