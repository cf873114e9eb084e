"""drift_frame: fleet and per-cohort rows in one pass, nulls, empty sides."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring import drift
from monitoring.drift import DRIFT_FEATURES, EmptySampleError

FEATURES = ("temp_ambient_mean", "humidity_mean", "door_open_fraction")


def frame(rng, cohorts: dict[str, int], *, ambient_shift: dict[str, float] | None = None):
    parts = []
    for cohort, n in cohorts.items():
        shift = (ambient_shift or {}).get(cohort, 0.0)
        parts.append(
            pd.DataFrame(
                {
                    "cohort_id": cohort,
                    "temp_ambient_mean": rng.normal(22 + shift, 2, n),
                    "humidity_mean": rng.normal(45, 5, n),
                    "door_open_fraction": rng.binomial(15, 0.05, n) / 15,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def frames():
    rng = np.random.default_rng(8)
    baseline = frame(rng, {"WF-5HP/hot-dry": 600, "DC-2HP/cold": 900, "DF-3HP/cold": 300})
    # DF-3HP/cold sends nothing this window; hot-dry runs 5 °C warmer.
    current = frame(
        rng, {"WF-5HP/hot-dry": 200, "DC-2HP/cold": 300}, ambient_shift={"WF-5HP/hot-dry": 5}
    )
    return baseline, current


def test_one_row_per_scope_and_feature_fleet_first(frames):
    baseline, current = frames
    table = drift.drift_frame(baseline, current, features=FEATURES)
    assert list(table.columns) == list(drift.RESULT_COLUMNS)
    assert table[["scope", "cohort_id", "feature_name"]].values.tolist() == [
        ["fleet", "", f] for f in FEATURES
    ] + [["cohort", "DC-2HP/cold", f] for f in FEATURES] + [
        ["cohort", "WF-5HP/hot-dry", f] for f in FEATURES
    ]


def test_the_shifted_cohort_drifts_and_the_other_does_not(frames):
    baseline, current = frames
    table = drift.drift_frame(baseline, current, features=FEATURES).set_index(
        ["cohort_id", "feature_name"]
    )
    hot = table.loc[("WF-5HP/hot-dry", "temp_ambient_mean")]
    cold = table.loc[("DC-2HP/cold", "temp_ambient_mean")]
    assert hot.ks_statistic > 0.7 and hot.ks_p_value < 1e-30 and hot.ks_exceeded
    assert hot.severity == "significant"
    assert cold.ks_statistic < 0.1 and not cold.ks_exceeded and cold.severity == "none"
    # Fleet-wide the shifted cohort is 40 % of the window: diluted, still a breach.
    fleet = table.loc[("", "temp_ambient_mean")]
    assert cold.ks_statistic < fleet.ks_statistic < hot.ks_statistic and fleet.ks_exceeded


def test_each_row_equals_the_one_sample_functions_on_its_own_rows(frames):
    baseline, current = frames
    table = drift.drift_frame(baseline, current, features=FEATURES)
    for row in table.itertuples():
        if row.scope == "fleet":
            b, c = baseline[row.feature_name], current[row.feature_name]
        else:
            b = baseline.loc[baseline["cohort_id"] == row.cohort_id, row.feature_name]
            c = current.loc[current["cohort_id"] == row.cohort_id, row.feature_name]
        reference = stats.ks_2samp(b, c)
        assert abs(row.ks_statistic - reference.statistic) <= 1e-12
        assert abs(row.ks_p_value - reference.pvalue) <= 1e-9
        assert row.psi == drift.psi(b, c)
        assert (row.n_baseline, row.n_current) == (len(b), len(c))


def test_baseline_rows_of_a_cohort_absent_now_still_count_for_the_fleet(frames):
    baseline, current = frames
    fleet = drift.drift_frame(baseline, current, features=FEATURES).iloc[0]
    assert fleet.n_baseline == 1800  # DF-3HP/cold's 300 rows included
    assert fleet.n_current == 500


def test_nulls_are_dropped_and_counted_per_side(frames):
    baseline, current = frames
    baseline.loc[:9, "humidity_mean"] = np.nan  # ten hot-dry baseline rows
    current.loc[current.index[-3:], "humidity_mean"] = np.nan  # three cold current rows
    table = drift.drift_frame(baseline, current, features=FEATURES).set_index(
        ["cohort_id", "feature_name"]
    )
    fleet = table.loc[("", "humidity_mean")]
    assert (fleet.n_baseline, fleet.null_baseline, fleet.n_current, fleet.null_current) == (
        1790,
        10,
        497,
        3,
    )
    cold = table.loc[("DC-2HP/cold", "humidity_mean")]
    assert (cold.null_baseline, cold.null_current, cold.n_current) == (0, 3, 297)
    assert table.loc[("WF-5HP/hot-dry", "humidity_mean")].null_baseline == 10


def test_a_feature_with_no_value_on_one_side_is_no_data_not_an_error(frames):
    baseline, current = frames
    current.loc[current["cohort_id"] == "DC-2HP/cold", "door_open_fraction"] = np.nan
    table = drift.drift_frame(baseline, current, features=FEATURES).set_index(
        ["cohort_id", "feature_name"]
    )
    row = table.loc[("DC-2HP/cold", "door_open_fraction")]
    assert row.severity == "no_data" and not row.ks_exceeded
    assert pd.isna(row.ks_statistic) and pd.isna(row.ks_p_value) and pd.isna(row.psi)
    assert (row.n_current, row.null_current) == (0, 300)
    assert table.loc[("", "door_open_fraction")].severity != "no_data"


def test_an_empty_current_window_is_a_clear_error(frames):
    baseline, current = frames
    with pytest.raises(EmptySampleError, match="current window has no rows"):
        drift.drift_frame(baseline, current.iloc[:0], features=FEATURES)


def test_a_missing_feature_column_is_named(frames):
    baseline, current = frames
    with pytest.raises(KeyError, match="pressure_ratio"):
        drift.drift_frame(baseline, current, features=(*FEATURES, "pressure_ratio"))


def test_fleet_only_and_threads_give_the_same_numbers(frames):
    baseline, current = frames
    together = drift.drift_frame(baseline, current, features=FEATURES, workers=2)
    fleet_only = drift.drift_frame(baseline, current, features=FEATURES, group=None)
    pd.testing.assert_frame_equal(fleet_only, together.iloc[: len(FEATURES)])
    pd.testing.assert_frame_equal(together, drift.drift_frame(baseline, current, features=FEATURES))


def test_the_job_compares_45_columns():
    assert len(DRIFT_FEATURES) == len(set(DRIFT_FEATURES)) == 45
    assert DRIFT_FEATURES[-1] == "reading_count"
