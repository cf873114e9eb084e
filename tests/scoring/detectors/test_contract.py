"""Behaviour every detector kind shares: determinism, batch independence, range, validation."""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors import (
    DETECTORS,
    FORMAT_VERSION,
    ArtifactFormatError,
    Detector,
    NotFittedError,
    detector_for,
)
from scoring.detectors.base import STATISTIC_KEYS, artifact_header
from scoring.model_input import FeatureMismatch, impute
from tests.scoring.detectors.synthetic import boundary_frame, feature_frame, vibration_spike

KINDS = sorted(DETECTORS)
MODEL_KINDS = [kind for kind in KINDS if kind != "rules_fallback"]
# Small forests keep the suite fast; behaviour does not depend on the tree count.
TEST_PARAMS = {
    "isolation_forest": {"n_estimators": 50},
    "cohort_isolation_forest": {"n_estimators": 50, "min_cohort_rows": 150},
    "statistical_baseline": {},
    "daily_baseline": {},
    "rules_fallback": {},
}


def make(kind: str) -> Detector:
    return detector_for(kind)(params=TEST_PARAMS[kind])


@pytest.fixture(scope="module")
def training():
    return feature_frame(30, 12, seed=1, cohorts=("walk_in", "display"))


@pytest.fixture(scope="module")
def fresh():
    return feature_frame(30, 3, seed=2, cohorts=("walk_in", "display"))


@pytest.fixture(scope="module", params=KINDS)
def fitted(request, training):
    return make(request.param).fit(training)


def test_registry_maps_every_kind_to_its_class():
    assert set(KINDS) == {
        "isolation_forest",
        "statistical_baseline",
        "cohort_isolation_forest",
        "daily_baseline",
        "rules_fallback",
    }
    for kind in KINDS:
        assert detector_for(kind).kind == kind


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(LookupError, match="known kinds: .*isolation_forest"):
        detector_for("autoencoder")


def test_scoring_the_same_input_twice_gives_identical_results(fitted, fresh):
    first, second = fitted.score(fresh), fitted.score(fresh)
    assert np.array_equal(first.anomaly_score, second.anomaly_score)
    assert np.array_equal(first.raw_score, second.raw_score)
    assert first.top_contributors == second.top_contributors
    assert first.contributor_scores == second.contributor_scores


def test_refitting_on_the_same_data_gives_identical_scores(fitted, training, fresh):
    refitted = make(fitted.kind).fit(training)
    assert np.array_equal(refitted.score(fresh).anomaly_score, fitted.score(fresh).anomaly_score)
    assert np.array_equal(refitted.score(fresh).raw_score, fitted.score(fresh).raw_score)


def test_a_row_scores_the_same_alone_as_in_a_batch(fitted, fresh):
    batch = pd.concat([fresh, vibration_spike(fresh.iloc[:5])], ignore_index=True)
    together = fitted.score(batch)
    for i in (0, 7, len(batch) - 1):
        alone = fitted.score(batch.iloc[[i]])
        assert alone.anomaly_score[0] == together.anomaly_score[i]
        assert alone.raw_score[0] == together.raw_score[i]
        assert alone.top_contributors[0] == together.top_contributors[i]
    # Dropping the anomalous rows does not move the normal rows' scores either.
    assert np.array_equal(fitted.score(fresh).anomaly_score, together.anomaly_score[: len(fresh)])


def test_a_single_row_can_be_scored(fitted, fresh):
    result = fitted.score(fresh.iloc[[0]])
    assert len(result) == 1
    assert result.device_id.tolist() == [fresh["device_id"].iloc[0]]
    assert len(result.top_contributors[0]) <= 5


def test_score_one_scores_a_mapping(fitted, fresh):
    row = fresh.iloc[0]
    features = {name: float(row[name]) for name in fitted.feature_names}
    result = fitted.score_one(features, device_id=row["device_id"], cohort_id=row["cohort_id"])
    assert result.anomaly_score[0] == fitted.score(fresh.iloc[[0]]).anomaly_score[0]


@pytest.mark.parametrize("factor", [1.0, 1e3, 1e12, 1e300, -1e300])
def test_scores_stay_in_unit_interval_for_extreme_inputs(fitted, fresh, factor):
    extreme = fresh.copy()
    extreme[list(fitted.feature_names)] = extreme[list(fitted.feature_names)] * factor
    result = fitted.score(extreme)
    assert np.isfinite(result.anomaly_score).all()
    assert ((result.anomaly_score >= 0) & (result.anomaly_score <= 1)).all()
    assert all(np.isfinite(s).all() for s in result.contributor_scores)


def test_scores_stay_in_unit_interval_at_the_sensor_limits(fitted):
    result = fitted.score(boundary_frame())
    assert ((result.anomaly_score >= 0) & (result.anomaly_score <= 1)).all()
    if fitted.kind != "rules_fallback":
        # Every sensor pinned to a range limit is far outside normal operation.
        assert result.anomaly_flag.all()


def test_result_columns_have_the_c5_types(fitted, fresh):
    result = fitted.score(fresh)
    assert result.device_id.dtype == object
    assert result.anomaly_score.dtype == np.float64
    assert result.raw_score.dtype == np.float64
    assert result.anomaly_flag.dtype == bool
    assert isinstance(result.threshold, float)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "device_id",
        "anomaly_score",
        "anomaly_flag",
        "threshold_used",
        "top_contributors",
        "contributor_scores",
        "raw_score",
    ]
    assert len(frame) == len(fresh)


def test_contributors_are_ranked_largest_first(fitted, fresh):
    result = fitted.score(vibration_spike(fresh))
    for names, scores in zip(result.top_contributors, result.contributor_scores, strict=True):
        assert len(names) == len(scores) <= 5
        assert set(names) <= set(fitted.feature_names)
        # Signed contributors (which way a quantity moved) rank by size.
        size = [abs(v) for v in scores] if fitted.signed_contributors else scores
        assert size == sorted(size, reverse=True)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_model_flags_are_score_above_threshold(kind, training, fresh):
    detector = make(kind).fit(training)
    result = detector.score(pd.concat([fresh, vibration_spike(fresh)], ignore_index=True))
    assert np.array_equal(result.anomaly_flag, result.anomaly_score > detector.threshold)
    assert result.threshold == 0.7
    assert result.anomaly_flag.any() and not result.anomaly_flag.all()


def test_serialisation_round_trip_gives_identical_scores(fitted, fresh):
    loaded = Detector.from_bytes(fitted.to_bytes())
    assert type(loaded) is type(fitted)
    assert loaded.fitted
    assert loaded.feature_names == fitted.feature_names
    assert loaded.training_statistics() == fitted.training_statistics()
    batch = pd.concat([fresh, vibration_spike(fresh)], ignore_index=True)
    assert np.array_equal(loaded.score(batch).anomaly_score, fitted.score(batch).anomaly_score)
    assert loaded.score(batch).top_contributors == fitted.score(batch).top_contributors


def test_a_different_format_version_is_refused_with_a_clear_message(fitted):
    data = fitted.to_bytes().replace(b'"format_version": 1', b'"format_version": 99', 1)
    with pytest.raises(ArtifactFormatError, match="format version 99 is not supported.*retrain"):
        Detector.from_bytes(data)


def test_the_header_is_readable_without_unpickling(fitted):
    header = artifact_header(fitted.to_bytes())
    assert header["format_version"] == FORMAT_VERSION
    assert header["kind"] == fitted.kind
    assert header["fitted"] is True


def test_bytes_that_are_not_an_artifact_are_refused(fitted):
    with pytest.raises(ArtifactFormatError, match="magic"):
        Detector.from_bytes(b"\x80\x04garbage")


def test_loading_through_another_kind_is_refused(fitted):
    other = next(cls for kind, cls in DETECTORS.items() if kind != fitted.kind)
    with pytest.raises(ArtifactFormatError, match=fitted.kind):
        other.from_bytes(fitted.to_bytes())


def test_a_missing_feature_column_raises_feature_mismatch_naming_it(fitted, fresh):
    dropped = fitted.feature_names[2]
    with pytest.raises(FeatureMismatch, match=dropped):
        fitted.score(fresh.drop(columns=[dropped]))
    with pytest.raises(FeatureMismatch, match=dropped):
        make(fitted.kind).fit(fresh.drop(columns=[dropped]))


def test_feature_columns_are_taken_by_name_not_position(fitted, fresh):
    shuffled = fresh[list(reversed(fresh.columns))]
    assert np.array_equal(fitted.score(shuffled).anomaly_score, fitted.score(fresh).anomaly_score)


def test_training_statistics_have_every_key_for_every_feature(fitted, training):
    stats = fitted.training_statistics()
    assert list(stats) == list(fitted.feature_names)
    for name, entry in stats.items():
        assert tuple(entry) == STATISTIC_KEYS
        assert entry["min"] <= entry["p0_1"] <= entry["p5"] <= entry["p50"] <= entry["p95"]
        assert entry["p95"] <= entry["p99_9"] <= entry["max"]
        assert entry["null_rate"] == 0.0
        assert entry["mean"] == pytest.approx(training[name].mean())


def test_fit_records_the_callers_pre_imputation_null_rates(training):
    name = "temp_evaporator_mean"
    detector = make("isolation_forest").fit(training, null_rates={name: 0.125})
    assert detector.training_statistics()[name]["null_rate"] == 0.125


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_scoring_an_unfitted_model_raises(kind, fresh):
    detector = make(kind)
    assert not detector.fitted
    with pytest.raises(NotFittedError, match="not fitted"):
        detector.score(fresh)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_model_detectors_refuse_null_features_and_point_to_imputation(kind, training, fresh):
    detector = make(kind).fit(training)
    gappy = fresh.copy()
    gappy.loc[gappy.index[1], detector.feature_names[0]] = np.nan
    with pytest.raises(ValueError, match="1 of .* rows have null.*impute"):
        detector.score(gappy)
    with pytest.raises(ValueError, match="impute"):
        make(kind).fit(gappy)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_all_null_input_raises_a_clear_error_for_model_detectors(kind, training, fresh):
    detector = make(kind).fit(training)
    blank = fresh.copy()
    blank[list(detector.feature_names)] = np.nan
    with pytest.raises(ValueError, match=f"{len(blank)} of {len(blank)} rows have null"):
        detector.score(blank)


def test_all_null_input_does_not_crash_the_rules_fallback(fresh):
    detector = make("rules_fallback")
    blank = fresh.copy()
    blank[list(detector.feature_names)] = np.nan
    result = detector.score(blank)
    assert not result.anomaly_flag.any()
    assert (result.anomaly_score == 0.0).all()
    assert result.top_contributors == [[] for _ in range(len(blank))]


def test_an_empty_frame_scores_to_an_empty_result(fitted, fresh):
    result = fitted.score(fresh.iloc[:0])
    assert len(result) == 0


def test_fitting_on_an_empty_frame_is_refused(fresh):
    with pytest.raises(ValueError, match="empty"):
        make("isolation_forest").fit(fresh.iloc[:0])


def test_unknown_params_are_refused():
    with pytest.raises(ValueError, match="unknown params \\['n_trees'\\]"):
        detector_for("isolation_forest")(params={"n_trees": 10})


def test_a_non_reproducible_random_state_is_refused():
    with pytest.raises(ValueError, match="random_state must be an int"):
        detector_for("isolation_forest")(params={"random_state": None})


def test_imputed_windows_can_be_scored(fitted, fresh):
    gappy = fresh.copy()
    gappy.loc[gappy.index[::4], list(fitted.feature_names[:3])] = np.nan
    kept, excluded = impute(gappy, fitted.feature_names)
    assert excluded.empty
    result = fitted.score(kept)
    assert len(result) == len(fresh)
