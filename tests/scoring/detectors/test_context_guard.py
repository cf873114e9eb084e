"""The forests and the weather: judged ambient-relative, a hotter hour is no anomaly but a
fouled condenser is; the context guard pages for no heat wave or restocking door, while a
fault with the device's usual weather and door still pages."""

import numpy as np
import pandas as pd
import pytest

from scoring.detectors.cohort import CohortIsolationForestDetector
from scoring.detectors.context_guard import ContextGuard
from scoring.detectors.isolation_forest import IsolationForestDetector
from scoring.detectors.statistical import MEDIUM_CAP
from tests.scoring.detectors.synthetic import add_derived, feature_frame

# Per kelvin of ambient (physics §1: condensing follows ambient, high side and current with it).
CONDENSING = {
    "temp_condenser_mean": 1.0,
    "temp_condenser_min": 1.0,
    "temp_condenser_max": 1.0,
    "pressure_high_mean": 30.0,
    "pressure_high_max": 30.0,
    "temp_discharge_mean": 1.0,
    "temp_discharge_max": 1.0,
    "current_compressor_mean": 0.2,
    "current_compressor_max": 0.2,
}
# What an open door warms (physics §1): box and coil, humidity.
BOX = {"temp_evaporator_mean": 1.0, "temp_evaporator_max": 1.0, "humidity_mean": 2.0}


def _warmer(frame: pd.DataFrame, kelvin, per: dict[str, float]) -> pd.DataFrame:
    out = frame.copy()
    for name, slope in per.items():
        out[name] = out[name] + slope * kelvin
    add_derived(out)
    return out


@pytest.fixture(scope="module")
def training():
    """Healthy windows whose condensing side follows each device's own ambient, and whose
    door opens briefly now and then: a day and an hour of 15-minute windows, as a forest
    learns ambient slopes only from a day's weather."""
    frame = feature_frame(60, 100, seed=11)
    rng = np.random.default_rng(11)
    devices = frame["device_id"].to_numpy()
    home = {d: 22 + rng.normal(0, 3) for d in np.unique(devices)}
    ambient = np.array([home[d] for d in devices]) + rng.normal(0, 1.5, len(frame))
    frame = _warmer(frame, ambient - 22, CONDENSING)
    frame["temp_ambient_mean"] = ambient
    frame["door_open_fraction"] = np.where(rng.random(len(frame)) < 0.3, 1 / 15, 0.0)
    return frame


def _usual(training, device="REF-TEST-00007") -> pd.DataFrame:
    rows = training[training["device_id"] == device]
    out = rows.drop(columns=["window_end"]).median(numeric_only=True).to_frame().T
    return out.assign(device_id=device, cohort_id=rows["cohort_id"].iloc[0], door_open_fraction=0.0)


def _heat_wave(window: pd.DataFrame, kelvin: float = 15.0) -> pd.DataFrame:
    hot = _warmer(window, kelvin, CONDENSING)
    return hot.assign(temp_ambient_mean=window["temp_ambient_mean"] + kelvin)


# The physical quantities only: with every C3 feature a few moved ones barely stand out in
# synthetic windows, and the test is about the guard, not the forest's power.
FEATURES = (
    "temp_ambient_mean",
    "door_open_fraction",
    "temp_condenser_mean",
    "pressure_high_mean",
    "temp_discharge_mean",
    "current_compressor_mean",
    "temp_evaporator_mean",
    "humidity_mean",
)


def _pair(kind, training, **params):
    """The forest with its guard, and the same forest without; both on the raw features,
    so the guard is tested on its own."""
    params = {"n_estimators": 100, "ambient_relative": False, **params}
    guarded = kind(feature_names=FEATURES, params=params).fit(training)
    bare = kind(feature_names=FEATURES, params={**params, "context_guard_z": 0}).fit(training)
    return guarded, bare


@pytest.mark.parametrize("kind", [IsolationForestDetector, CohortIsolationForestDetector])
def test_judged_net_of_the_ambient_a_hot_hour_is_normal_and_fouling_stands_out(training, kind):
    relative = kind(feature_names=FEATURES, params={"n_estimators": 100, "context_guard_z": 0})
    relative.fit(training)
    raw = kind(
        feature_names=FEATURES,
        params={"n_estimators": 100, "context_guard_z": 0, "ambient_relative": False},
    ).fit(training)
    usual = _usual(training)
    hot = _heat_wave(usual, 10.0)
    # On raw features the forest isolates the weather; net of it, nothing is left.
    assert raw.score(hot).anomaly_flag[0]
    assert not relative.score(hot).anomaly_flag[0]
    # The same condensing rise in the device's usual weather is fouling, clearer than raw.
    fouled = _warmer(usual, 10.0, CONDENSING)
    assert relative.score(fouled).anomaly_score[0] > MEDIUM_CAP
    assert relative.score(fouled).anomaly_score[0] > raw.score(fouled).anomaly_score[0]


@pytest.mark.parametrize("kind", [IsolationForestDetector, CohortIsolationForestDetector])
def test_under_a_day_of_history_the_forest_learns_no_ambient_slope(training, kind):
    params = {"n_estimators": 100, "context_guard_z": 0}
    morning = training[
        training["window_end"] < training["window_end"].min() + pd.Timedelta(hours=10)
    ]
    short = kind(feature_names=FEATURES, params=params).fit(morning)
    raw = kind(feature_names=FEATURES, params={**params, "ambient_relative": False}).fit(morning)
    # Without a day's weather the forest judges the raw features, as one turned off would.
    hot = _heat_wave(_usual(training), 10.0)
    assert short.score(hot).anomaly_score[0] == raw.score(hot).anomaly_score[0]
    assert short.score(hot).anomaly_flag[0]


@pytest.mark.parametrize("kind", [IsolationForestDetector, CohortIsolationForestDetector])
def test_a_heat_wave_is_capped_below_high_but_fouling_in_usual_weather_is_not(training, kind):
    guarded, bare = _pair(kind, training)
    usual = _usual(training)
    hot = _heat_wave(usual)
    # Without the guard the forest would page for the weather; with it, it says so only.
    assert bare.score(hot).anomaly_score[0] > MEDIUM_CAP
    assert guarded.score(hot).anomaly_score[0] == MEDIUM_CAP
    assert guarded.score(hot).anomaly_flag[0]
    # The same condensing rise with the device's usual ambient is the fault (physics §3):
    # the guard leaves its score alone.
    fouled = _warmer(usual, 15.0, CONDENSING)
    assert guarded.score(fouled).anomaly_score[0] == bare.score(fouled).anomaly_score[0]
    assert guarded.score(fouled).anomaly_flag[0]


def test_a_restocking_door_is_capped_but_a_warm_box_with_the_door_shut_is_not(training):
    guarded, bare = _pair(IsolationForestDetector, training)
    usual = _usual(training)
    warm = _warmer(usual, 10.0, BOX)
    # Restocking: the door open 8 of 15 minutes, the box warm, the compressor healthy.
    restock = warm.assign(door_open_fraction=8 / 15)
    assert guarded._guard.unusual(restock, guard=3.0)[0]
    assert guarded.score(restock).anomaly_score[0] == min(
        bare.score(restock).anomaly_score[0], MEDIUM_CAP
    )
    # A box as warm with the door shut is no restocking: judged as the forest sees it.
    assert not guarded._guard.unusual(warm, guard=3.0)[0]
    assert guarded.score(warm).anomaly_score[0] == bare.score(warm).anomaly_score[0]


def test_the_guard_judges_a_device_by_its_own_history_then_its_cohorts(training):
    guard = ContextGuard.fit(training, min_windows=8)
    usual = _usual(training)
    assert not guard.unusual(usual, guard=3.0)[0]
    # A cold snap is unusual too (the usual window, door shut all along, was not).
    cold = usual.assign(temp_ambient_mean=usual["temp_ambient_mean"] - 12)
    assert guard.unusual(cold, guard=3.0)[0]
    # A device the guard never saw is judged by its cohort, whose spread includes the
    # devices' different homes: a few kelvin off the cohort's mean is usual there.
    stranger = usual.assign(device_id="REF-TEST-NEW", temp_ambient_mean=22 + 4)
    assert not guard.unusual(stranger, guard=3.0)[0]
    assert guard.unusual(stranger.assign(temp_ambient_mean=22 + 20), guard=3.0)[0]


def test_an_artifact_from_before_the_guard_scores_as_it_did(training):
    guarded, bare = _pair(IsolationForestDetector, training)
    guarded._guard = None  # what unpickling an older artifact gives: the class default
    hot = _heat_wave(_usual(training))
    assert guarded.score(hot).anomaly_score[0] == bare.score(hot).anomaly_score[0]
