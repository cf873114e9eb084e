"""DetectorResult refuses what must never be written (domain §4.5: NaN scores fail the run)."""

import numpy as np
import pytest

from scoring.detectors import DetectorResult, InvalidScoreError
from scoring.detectors.base import top_contributors, z_scores


def result(scores, raw=None):
    n = len(scores)
    return DetectorResult(
        device_id=np.array([f"REF-TEST-{i:05d}" for i in range(n)], dtype=object),
        anomaly_score=np.asarray(scores, dtype="float64"),
        anomaly_flag=np.asarray(scores) > 0.7,
        threshold=0.7,
        top_contributors=[["a"]] * n,
        contributor_scores=[[1.0]] * n,
        raw_score=np.zeros(n) if raw is None else np.asarray(raw, dtype="float64"),
    )


def test_valid_scores_are_accepted():
    assert len(result([0.0, 0.5, 1.0])) == 3


@pytest.mark.parametrize("bad", [np.nan, -0.01, 1.01, np.inf])
def test_nan_or_out_of_range_scores_are_refused(bad):
    with pytest.raises(InvalidScoreError, match="1 anomaly scores are NaN or outside"):
        result([0.2, bad])


def test_nan_raw_scores_are_refused():
    with pytest.raises(InvalidScoreError, match="raw scores"):
        result([0.2], raw=[np.nan])


def test_misaligned_columns_are_refused():
    with pytest.raises(InvalidScoreError, match="different lengths"):
        DetectorResult(
            device_id=np.array(["a", "b"], dtype=object),
            anomaly_score=np.zeros(1),
            anomaly_flag=np.zeros(1, dtype=bool),
            threshold=0.7,
            top_contributors=[[]],
            contributor_scores=[[]],
            raw_score=np.zeros(1),
        )


def test_ties_between_contributors_keep_feature_order():
    names, scores = top_contributors(np.array([[1.0, 3.0, 3.0, 0.5]]), ["a", "b", "c", "d"], k=3)
    assert names == [["b", "c", "a"]]
    assert scores == [[3.0, 3.0, 1.0]]


def test_z_scores_survive_a_zero_training_std():
    z = z_scores(np.array([[5.0, 1e308]]), np.array([5.0, 0.0]), np.array([0.0, 0.0]))
    assert z[0, 0] == 0.0
    assert np.isfinite(z).all()
