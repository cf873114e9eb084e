"""The pure model-layer figures (monitoring.model_metrics) on hand-made score frames."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from monitoring.model_metrics import above, agreement_metrics, below, model_metrics

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def frame(model_id, scores, flags, *, cohorts=None, regions=None, devices=None):
    n = len(scores)
    return pd.DataFrame(
        {
            "model_id": model_id,
            "device_id": devices or [f"D{i}" for i in range(n)],
            "window_end": T,
            "anomaly_score": scores,
            "anomaly_flag": flags,
            "cohort_id": cohorts or ["A"] * n,
            "region": regions or ["US-W"] * n,
            "equipment_model": [c.split("/")[0] for c in (cohorts or ["A"] * n)],
        }
    )


def by_key(metrics):
    return {(m.model_id, m.metric, m.slice): m for m in metrics}


def test_distribution_rate_histogram_and_slices_of_one_model():
    scores = [0.1, 0.2, 0.3, 0.4, 0.96]
    flags = [False, False, False, False, True]
    cohorts = ["X/hot", "X/hot", "Y/cold", "Y/cold", "Y/cold"]
    regions = ["US-W", "US-E", "US-W", "US-E", "US-E"]
    got = by_key(model_metrics(frame("m1", scores, flags, cohorts=cohorts, regions=regions)))

    assert got[("m1", "devices", "")].value == 5
    assert got[("m1", "mean_score", "")].value == pytest.approx(0.392)
    assert got[("m1", "score_std", "")].value == pytest.approx(np.std(scores))  # population
    # Linear interpolation between the two highest: 0.4 + 0.8 * (0.96 - 0.4).
    assert got[("m1", "score_p95", "")].value == pytest.approx(0.848)
    assert got[("m1", "anomaly_rate", "")].value == pytest.approx(0.2)
    assert got[("m1", "anomaly_rate", "cohort_id:Y/cold")].value == pytest.approx(1 / 3)
    assert got[("m1", "anomaly_rate", "cohort_id:Y/cold")].devices == 3
    assert got[("m1", "anomaly_rate", "cohort_id:X/hot")].value == 0.0
    assert got[("m1", "anomaly_rate", "region:US-E")].value == pytest.approx(1 / 3)
    assert got[("m1", "anomaly_rate", "equipment_model:Y")].devices == 3
    histogram = {k[2]: m.value for k, m in got.items() if k[1] == "score_histogram"}
    assert len(histogram) == 20 and sum(histogram.values()) == 5
    # 0.1 sits on the edge of bin 2 ([0.10, 0.15)); 0.96 in the last bin.
    assert (histogram["bin:02"], histogram["bin:19"], histogram["bin:00"]) == (1, 1, 0)


def test_devices_without_a_slice_are_not_a_slice():
    got = by_key(model_metrics(frame("m1", [0.1, 0.9], [False, True], cohorts=["", "A/x"])))
    assert ("m1", "anomaly_rate", "cohort_id:") not in got
    assert got[("m1", "anomaly_rate", "cohort_id:A/x")].value == 1.0


def test_pairwise_and_unanimous_agreement_on_shared_devices_only():
    a = frame("a", [0.9, 0.9, 0.1, 0.1], [True, True, False, False])
    b = frame("b", [0.9, 0.1, 0.1, 0.1], [True, False, False, False])
    # c scored only three of the four devices.
    c = frame("c", [0.9, 0.9, 0.9], [True, True, True], devices=["D0", "D1", "D2"])
    got = by_key(agreement_metrics(pd.concat([a, b, c]), ["a", "b", "c"]))

    assert got[("", "pairwise_agreement", "pair:a|b")].value == pytest.approx(3 / 4)
    assert got[("", "pairwise_agreement", "pair:a|b")].devices == 4
    assert got[("", "pairwise_agreement", "pair:a|c")].value == pytest.approx(2 / 3)
    assert got[("", "pairwise_agreement", "pair:b|c")].value == pytest.approx(1 / 3)
    # All three agree on D0 only, of the three devices all three scored.
    unanimous = got[("", "unanimous_agreement", "")]
    assert (unanimous.value, unanimous.devices) == (pytest.approx(1 / 3), 3)


def test_high_score_disagreements_count_devices_split_across_the_limits():
    a = frame("a", [0.85, 0.81, 0.8, 0.9, 0.9], [True] * 5)
    b = frame("b", [0.2, 0.29, 0.1, 0.3, 0.5], [False] * 5)
    got = by_key(agreement_metrics(pd.concat([a, b]), ["a", "b"]))
    # D0 and D1 split (> 0.8 and < 0.3); D2 sits on 0.8, D3 on 0.3, D4 is not low.
    assert got[("", "high_score_disagreements", "")].value == 2
    assert got[("", "high_score_disagreements", "")].devices == 5


def test_one_voter_has_no_agreement():
    assert agreement_metrics(frame("a", [0.5], [False]), ["a"]) == []
    assert agreement_metrics(frame("a", [0.5], [False]), ["a", "absent"]) == []  # did not score


def test_limits_are_strict_up_to_float_rounding():
    assert not above(0.08 - 0.05, 0.03)  # 0.030000000000000002 is the limit, not past it
    assert above(0.0301, 0.03)
    assert not below(0.85, 0.85) and below(0.8499, 0.85)
