"""Cohort Isolation Forest: what is normal depends on the equipment (domain §10.3)."""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors.cohort import CohortIsolationForestDetector, cohort_seed
from tests.scoring.detectors.synthetic import feature_frame

# The default 200 trees: with fewer, tree noise blurs the cohort gap for a few rows.
PARAMS = {"n_estimators": 200}


@pytest.fixture(scope="module")
def training():
    # 30 walk-in freezers and 30 display cases with 10 windows each: 300 rows per cohort,
    # plus a 'tiny' cohort of 5 devices (50 rows) too small for its own forest.
    big = feature_frame(60, 10, seed=1, cohorts=("walk_in", "display"))
    tiny = feature_frame(5, 10, seed=7, cohorts=("walk_in",), device_prefix="TINY-")
    return pd.concat([big, tiny.assign(cohort_id="tiny")], ignore_index=True)


@pytest.fixture(scope="module")
def detector(training):
    return CohortIsolationForestDetector(params=PARAMS).fit(training)


def test_cohorts_with_enough_rows_get_their_own_forest(detector):
    assert detector.cohorts == ("display", "walk_in")
    assert detector.params["min_cohort_rows"] == 200


def test_a_window_normal_for_walk_ins_is_flagged_in_display_cases_only(detector):
    walk_in_like = feature_frame(10, 1, seed=5, cohorts=("walk_in",), device_prefix="NEW-")
    as_walk_in = detector.score(walk_in_like)
    as_display = detector.score(walk_in_like.assign(cohort_id="display"))
    assert not as_walk_in.anomaly_flag.any()
    assert as_display.anomaly_flag.all()
    # The evaporator runs 15 °C colder and the compressor draws 9 A more than a display case.
    for names in as_display.top_contributors:
        assert names[0].startswith(("temp_evaporator", "current_compressor", "temp_spread"))


def test_a_small_cohort_is_scored_by_the_fleet_forest(detector, training):
    rows = training[training["cohort_id"] == "tiny"].iloc[:5]
    as_tiny = detector.score(rows)
    as_unknown = detector.score(rows.assign(cohort_id="never-seen"))
    as_missing = detector.score(rows.assign(cohort_id=None))
    assert np.array_equal(as_tiny.anomaly_score, as_unknown.anomaly_score)
    assert np.array_equal(as_tiny.anomaly_score, as_missing.anomaly_score)


def test_integer_and_string_cohort_ids_are_the_same_cohort(training):
    numbered = training.assign(cohort_id=training["cohort_id"].map({"walk_in": 1, "display": 2}))
    detector = CohortIsolationForestDetector(params=PARAMS).fit(numbered)
    assert detector.cohorts == ("1", "2")
    rows = numbered.iloc[:3]
    assert np.array_equal(
        detector.score(rows).anomaly_score,
        detector.score(rows.assign(cohort_id="1")).anomaly_score,
    )


def test_each_cohort_forest_flags_about_five_percent_of_its_training_rows(detector, training):
    result = detector.score(training)
    for cohort in ("walk_in", "display"):
        rate = result.anomaly_flag[(training["cohort_id"] == cohort).to_numpy()].mean()
        assert 0.03 <= rate <= 0.07


def test_cohort_seeds_are_stable_across_processes():
    # Fixed values: Python's salted hash() would change them on every interpreter start.
    assert cohort_seed(42, "walk_in") == cohort_seed(42, "walk_in")
    assert cohort_seed(42, "walk_in") != cohort_seed(42, "display")
    assert cohort_seed(42, "walk_in") == 1024935832
    assert 0 <= cohort_seed(7, "x") < 2**31


def test_the_cohort_column_is_required(detector, training):
    with pytest.raises(ValueError, match="cohort_id"):
        detector.score(training.drop(columns=["cohort_id"]).iloc[:2])
