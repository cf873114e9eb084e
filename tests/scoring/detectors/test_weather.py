"""Weather as a covariate: the baselines judge the condensing side against the ambient of
the same hours, and unusual weather never pages anyone."""

import numpy as np
import pandas as pd

from scoring.detectors import weather
from scoring.detectors.statistical import StatisticalBaselineDetector

DEVICES, WINDOWS = 10, 60


def fleet(seed: int = 5) -> pd.DataFrame:
    """Healthy hour windows: condensing follows ambient at 0.9 K per K (physics §1)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(DEVICES):
        offset = rng.normal(0, 2)
        for _ in range(WINDOWS):
            ambient = 22 + offset + rng.normal(0, 3)
            rows.append(
                {
                    "device_id": f"REF-TEST-{d:05d}",
                    "cohort_id": "WF-5HP/temperate",
                    "temp_ambient_mean": ambient,
                    "temp_condenser_mean": 12 + 0.9 * ambient + rng.normal(0, 0.3),
                    "pressure_low_mean": 200 + rng.normal(0, 3),
                    "defrost_active_fraction": 0.0,
                }
            )
    return pd.DataFrame(rows)


FEATURES = ("temp_ambient_mean", "temp_condenser_mean", "pressure_low_mean")


def detector(training):
    return StatisticalBaselineDetector(
        feature_names=(*FEATURES, "defrost_active_fraction"),
        params={"std_prior_windows": 0, "z_at_threshold": 4.0},
    ).fit(training)


def window(training, device="REF-TEST-00003", **values):
    rows = training[training["device_id"] == device]
    out = rows.mean(numeric_only=True).to_frame().T
    for name, value in values.items():
        out[name] = value
    return out.assign(device_id=device, cohort_id="WF-5HP/temperate")


def test_the_slope_on_ambient_is_learned_within_devices():
    training = fleet()
    values = training[list(FEATURES)].to_numpy()
    slopes = weather.ambient_slopes(training, values, FEATURES)
    assert slopes[""][1] == np.float64(slopes["WF-5HP/temperate"][1])
    assert abs(slopes[""][1] - 0.9) < 0.05  # condensing per kelvin of ambient
    assert abs(slopes[""][2]) < 0.2 and slopes[""][0] == 0.0  # the covariate itself: none


def test_a_warmer_hour_is_not_an_anomaly_but_a_warm_condenser_in_mild_weather_is():
    training = fleet()
    model = detector(training)
    usual = window(training)
    ambient = float(usual["temp_ambient_mean"].iloc[0])
    condenser = float(usual["temp_condenser_mean"].iloc[0])
    # 4 K warmer outside, condensing 3.6 K warmer with it: what the weather explains.
    warm = usual.assign(temp_ambient_mean=ambient + 4, temp_condenser_mean=condenser + 3.6)
    assert not model.score(warm).anomaly_flag[0]
    # The same condenser with the usual weather: 3.6 K it cannot explain (fouling?).
    fouled = usual.assign(temp_condenser_mean=condenser + 3.6)
    result = model.score(fouled)
    assert result.anomaly_flag[0] and result.top_contributors[0][0] == "temp_condenser_mean"


def test_weather_beyond_the_devices_experience_caps_the_alert_at_medium():
    training = fleet()
    model = detector(training)
    usual = window(training)
    ambient = float(usual["temp_ambient_mean"].iloc[0])
    heat = usual.assign(
        temp_ambient_mean=ambient + 15,  # a heat wave: 5 of its stds
        temp_condenser_mean=float(usual["temp_condenser_mean"].iloc[0]) + 25,  # flat out
        pressure_low_mean=150.0,  # and a low side far below normal
    )
    result = model.score(heat)
    assert result.anomaly_flag[0]  # the low side still speaks
    assert result.top_contributors[0][0] == "pressure_low_mean"
    assert result.anomaly_score[0] <= 0.85  # but unusual weather never pages


def test_unusual_weather_zeroes_the_condensing_side_of_its_view_only():
    names = ["temp_ambient_mean", "temp_ambient_mean_6h", "duty_cycle", "duty_cycle_6h"]
    z = np.array([[0.5, 4.0, 6.0, 6.0], [4.0, 0.5, 6.0, 6.0]])
    odd = weather.unusual_weather(z, names, guard=3.0)
    assert odd.tolist() == [True, True]
    assert z.tolist() == [[0.0, 0.0, 6.0, 0.0], [0.0, 0.0, 0.0, 6.0]]
