"""The trailing-day baseline: signed per-device z over operating features, graded by how
physically consistent the evidence is (scoring.detectors.signatures)."""

import numpy as np
import pandas as pd
import pytest

from alerts.text import alert_description, alert_title
from scoring.detectors.signatures import consistent, signature_of
from scoring.detectors.trend import TREND_FEATURES, DailyBaselineDetector

DEVICES, WINDOWS = 12, 96  # four days of hourly trailing days per device
LEVELS = {  # a freezer's steady running, roughly; each device a little different
    "pressure_low_running_median": (200.0, 2.0),
    "superheat_running_median": (7.0, 0.15),
    "subcooling_running_median": (6.0, 0.15),
    "temp_discharge_running_median": (70.0, 0.6),
    "duty_cycle": (0.55, 0.01),
    "condenser_approach_running_median": (11.0, 0.2),
    "vibration_compressor_running_median": (3.2, 0.03),
    "humidity_mean": (50.0, 0.5),
}


def frame(seed: int = 3) -> pd.DataFrame:
    """Healthy trailing days: each feature near its device's own level, small day noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(DEVICES):
        offsets = {f: rng.normal(0, 10 * sd) for f, (_, sd) in LEVELS.items()}
        for _ in range(WINDOWS):
            row = {"device_id": f"REF-TEST-{d:05d}", "cohort_id": "WF-5HP/temperate"}
            for feature in TREND_FEATURES:
                base = feature.removesuffix("_6h")
                mean, sd = LEVELS.get(base, (1.0, 0.01))
                row[feature] = mean + offsets.get(base, 0.0) + rng.normal(0, sd)
            row["defrost_active_fraction"] = 0.08
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trained():
    training = frame()
    return DailyBaselineDetector(params={"std_prior_windows": 0}).fit(training), training


def window(training, device="REF-TEST-00004", **moves_in_sd):
    """The device's typical trailing day, with some features moved by so many of its stds."""
    rows = training[training["device_id"] == device]
    out = rows[list(TREND_FEATURES)].mean().to_frame().T
    for feature, k in moves_in_sd.items():
        out[feature] += k * rows[feature].std(ddof=1)
    return out.assign(device_id=device, cohort_id="WF-5HP/temperate")


def test_a_device_at_its_own_normal_is_not_flagged(trained):
    detector, training = trained
    result = detector.score(window(training))
    assert not result.anomaly_flag[0] and result.anomaly_score[0] < 0.5


def test_one_quantity_far_off_is_flagged_but_stays_medium(trained):
    detector, training = trained
    result = detector.score(window(training, condenser_approach_running_median=7))
    assert result.anomaly_flag[0]
    assert 0.7 < result.anomaly_score[0] <= 0.85
    assert result.top_contributors[0][0] == "condenser_approach_running_median"
    assert result.contributor_scores[0][0] == pytest.approx(7, rel=0.1)


def test_a_leak_shape_is_flagged_early_and_high_with_signed_contributors(trained):
    """Low side down and superheat up by 4 sigma each: neither alone would flag (< 5)."""
    detector, training = trained
    result = detector.score(
        window(training, pressure_low_running_median_6h=-4, superheat_running_median_6h=4)
    )
    assert result.anomaly_flag[0]
    assert 0.85 < result.anomaly_score[0] <= 0.95
    scores = dict(zip(result.top_contributors[0], result.contributor_scores[0], strict=True))
    assert scores["pressure_low_running_median_6h"] < -3.5
    assert scores["superheat_running_median_6h"] > 3.5


def test_the_same_moves_the_wrong_way_are_not_a_fault(trained):
    """Low side up and superheat down fit no fault signature: 4 sigma stays unflagged."""
    detector, training = trained
    result = detector.score(
        window(training, pressure_low_running_median_6h=4, superheat_running_median_6h=-4)
    )
    assert not result.anomaly_flag[0]


def test_a_cohort_stands_in_for_a_device_without_history(trained):
    detector, training = trained
    stranger = window(training).assign(device_id="REF-TEST-99999")
    result = detector.score(stranger)
    assert result.anomaly_score[0] < 1.0  # scored against the cohort, not refused


def test_the_signature_is_read_back_and_named_in_the_alert():
    contributors = ["superheat_running_median_6h", "pressure_low_running_median", "duty_cycle"]
    scores = [5.1, -4.2, 0.4]
    leak = signature_of(contributors, scores)
    assert leak is not None and leak.name == "refrigerant_leak"
    title = alert_title(
        device_id="REF-1", contributors=contributors, source="batch", signature=leak
    )
    assert title == "Signs of a refrigerant leak on device REF-1"
    text = alert_description(
        severity="HIGH",
        scores={"daily_baseline_v1": 0.9},
        contributors=contributors,
        contributor_scores=scores,
        trend=None,
        signature=leak,
    )
    assert "low-side pressure down" in text and "superheat up" in text


def test_a_single_quantity_in_both_views_is_not_two_pieces_of_evidence():
    z = {"superheat_running_median": 4.0, "superheat_running_median_6h": 6.0}
    assert consistent(z, at_least=3.5) is None
