"""Streaming rules engine: readings, the device's state, ordering, replay and persistence.

The rule-by-rule behaviour on physical shapes is in test_normal_shapes.py (no alert) and
test_fault_shapes.py (the right alert in time); trip and clear levels in test_levels.py.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import pytest

from scoring.streaming import RULES, STATE_VERSION, DeviceState, Firing, Reading, Thresholds
from scoring.streaming import evaluate as evaluate_reading
from tests.scoring.streaming.shapes import RACK, T0, Unit, rack, racks

DEFAULT = Thresholds()


def feed(
    state: DeviceState, readings: Iterable[Reading], thresholds: Thresholds = DEFAULT
) -> list[Firing]:
    return [f for r in readings for f in evaluate_reading(state, r, thresholds)]


def warm_rack(minutes: int = 120) -> DeviceState:
    state = DeviceState("dev-1")
    assert feed(state, racks(0, minutes)) == []
    return state


def test_severities_follow_d4_d10_and_issue_11():
    severities = {name: spec.severity for name, spec in RULES.items()}
    assert severities == {
        "compressor_overload": "CRITICAL",
        "vibration_spike": "CRITICAL",
        "pressure_loss_acute": "CRITICAL",
        "cooling_loss_total": "CRITICAL",
        "defrost_too_long": "MEDIUM",  # its first step: it escalates to HIGH and CRITICAL
        "defrost_overdue": "MEDIUM",
        "door_open_too_long": "HIGH",
        "sensor_spike": "LOW",
        "site_offline": "HIGH",
    }


# The device's state ----------------------------------------------------------------------


def test_the_state_learns_a_small_compressors_running_and_off_levels():
    unit = Unit(run_amps=6.0, off_amps=0.05, seed=3)
    state = DeviceState(unit.device_id)
    assert feed(state, unit.run(22 * 60)) == []
    now = unit.at(unit.minute).timestamp()
    context = state.context
    assert context.amps_run.value(now) == pytest.approx(6.0, rel=0.1)
    assert context.amps_off.value(now) == pytest.approx(0.05, abs=0.05)
    # Running above the off level plus a third of the way to the running level.
    assert 1.0 < context.running_split(now) < 3.0
    assert context.lp_run.value(now) == pytest.approx(300, rel=0.05)
    assert context.coil_run.value(now) == pytest.approx(-27.3, abs=1.0)
    longest, peak = context.rest_envelope(now)
    assert 5 <= longest <= 20 and 3 <= peak <= 10  # its own off-cycle, learned


def test_the_state_knows_running_resting_and_for_how_long():
    unit = Unit(seed=2)
    state = DeviceState(unit.device_id)
    feed(state, unit.run(6 * 60))
    feed(state, unit.into_run(6))
    now = unit.at(unit.minute).timestamp()
    assert state.context.running is True
    assert 5 <= state.context.run_minutes(now) <= 7
    feed(state, unit.into_rest(4))
    now = unit.at(unit.minute).timestamp()
    assert state.context.running is False
    assert 3 <= state.context.rest_minutes(now) <= 5


def test_one_wild_current_does_not_start_or_stop_the_compressor():
    state = warm_rack()
    since = state.context.since
    feed(state, [rack(120, current_compressor=0.1), rack(121)])
    assert (state.context.running, state.context.since) == (True, since)
    feed(state, [rack(122, current_compressor=0.1), rack(123, current_compressor=0.1)])
    assert state.context.running is False
    assert state.context.since == (T0 + timedelta(minutes=122)).timestamp()


def test_the_state_knows_defrost_recovery_door_and_restart():
    state = warm_rack()
    t = DEFAULT
    feed(state, racks(120, 20, defrost_cycle=True, current_compressor=0.1))
    assert state.context.defrost_active
    feed(state, racks(140, 10))
    now = (T0 + timedelta(minutes=149)).timestamp()
    assert not state.context.defrost_active and state.context.recovering(now, t)
    assert not state.context.recovering(now + 21 * 60, t)
    feed(state, [rack(150, door_open_close=True)])
    assert state.context.door_open_since == (T0 + timedelta(minutes=150)).timestamp()
    # 40 minutes without a reading: the next one is a restart.
    feed(state, [rack(191)])
    now = (T0 + timedelta(minutes=191)).timestamp()
    assert state.context.restarting(now) and not state.context.restarting(now + 30 * 60)
    assert state.context.door_open_since is None


# Ordering, silence, readings ---------------------------------------------------------------


def test_duplicate_and_out_of_order_readings_are_ignored():
    state = warm_rack()
    snapshot = state.to_dict()
    assert feed(state, [rack(119, current_compressor=45.0), rack(60, door_open_close=True)]) == []
    assert state.to_dict() == snapshot


def test_empty_or_silent_readings_do_not_fire_or_break_state():
    state = warm_rack()
    blank = Reading("dev-1", T0 + timedelta(minutes=120), {})
    silent = Reading("dev-1", T0 + timedelta(minutes=121), dict.fromkeys(RACK))
    assert feed(state, [blank, silent]) == []
    got = feed(state, racks(122, 3, current_compressor=45.0))
    assert [f.rule for f in got] == ["compressor_overload"]


def test_reading_accepts_numpy_scalars_and_numeric_flags():
    values = {"current_compressor": np.float32(45.5), "door_open_close": np.bool_(True)}
    got = Reading("dev-1", T0, {**values, "defrost_cycle": 1.0, "humidity": float("nan")})
    assert got.number("current_compressor") == 45.5
    assert got.flag("door_open_close") is True
    assert got.flag("defrost_cycle") is True
    assert got.number("humidity") is None
    assert got.number("door_open_close") is None


def test_reading_requires_an_aware_timestamp_and_the_right_device():
    with pytest.raises(ValueError, match="timezone-aware"):
        Reading("dev-1", datetime(2025, 1, 6), {})  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="dev-2"):
        evaluate_reading(DeviceState("dev-1"), Reading("dev-2", T0, {}), DEFAULT)


# Replay and persistence of the state -------------------------------------------------------


def scenario() -> list[Reading]:
    """26 h of a cycling freezer with every kind of event in it."""
    unit = Unit(seed=7)
    readings = unit.run(14 * 60)
    readings += unit.into_run(6) + unit.run(5, overload=2.6)
    readings += unit.run(60) + unit.run(20, door=True) + unit.run(60)
    readings += unit.run(50, defrost=True)
    readings += unit.run(2 * 60) + unit.into_run(8) + unit.run(6, low_side=0.4)
    readings += unit.run(30, powered=False) + unit.run(120)
    return readings


def test_from_history_rebuilds_the_live_state():
    readings = scenario()
    split = len(readings) - 10
    live = DeviceState("dev-1")
    fired = {f.rule for f in feed(live, readings[:split])}
    assert fired >= {
        "compressor_overload",
        "door_open_too_long",
        "defrost_too_long",
        "pressure_loss_acute",
    }
    history = readings[:split]
    random.Random(1).shuffle(history)
    rebuilt = DeviceState.from_history(history, DEFAULT)
    assert rebuilt.to_dict() == live.to_dict()
    assert feed(rebuilt, readings[split:]) == feed(live, readings[split:])


def test_from_history_without_readings_needs_a_device_id():
    with pytest.raises(ValueError, match="device_id"):
        DeviceState.from_history([], DEFAULT)
    assert DeviceState.from_history([], DEFAULT, device_id="dev-1") == DeviceState("dev-1")


def test_state_round_trips_through_json():
    readings = scenario()
    state = DeviceState.from_history(readings[:-30], DEFAULT)
    copy = DeviceState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy.to_dict() == state.to_dict()
    assert feed(copy, readings[-30:]) == feed(state, readings[-30:])
    assert state.to_dict()["version"] == STATE_VERSION == 2
    with pytest.raises(ValueError, match="version"):
        DeviceState.from_dict({**state.to_dict(), "version": 1})


def test_state_stays_bounded_however_long_or_fast_a_device_reports():
    unit = Unit(seed=4)
    state = DeviceState(unit.device_id)
    feed(state, unit.run(24 * 60))
    day = len(json.dumps(state.to_dict()))
    feed(state, unit.run(48 * 60))
    # Time-bounded: two more days add nothing (24 hourly buckets, windows of minutes).
    assert len(json.dumps(state.to_dict())) <= day * 1.1
    assert day < 12_000
    # A device reporting every second for an hour stays within the hard caps.
    fast = DeviceState("fast")
    start = T0 + timedelta(days=1)
    for s in range(3600):
        evaluate_reading(fast, Reading("fast", start + timedelta(seconds=s), RACK), DEFAULT)
    assert len(fast.context.coil) <= 180
    assert all(len(m.window.points) <= 60 for m in fast.memory.values())


# Thresholds --------------------------------------------------------------------------------


def test_thresholds_from_mapping_ignores_unknown_keys_and_takes_whole_counts():
    got = Thresholds.from_mapping(
        {"compressor_overload_amps": "35", "overload_persist_k": 2.0, "colour": "blue"}
    )
    assert got == Thresholds(compressor_overload_amps=35.0, overload_persist_k=2)
    assert isinstance(got.overload_persist_k, int)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"door_open_max_minutes": "soon"}, "door_open_max_minutes must be a number"),
        ({"compressor_overload_amps": None}, "compressor_overload_amps must be a number"),
        ({"cooling_window_minutes": True}, "cooling_window_minutes must be a number"),
        ({"pressure_drop_fraction": -0.1}, "pressure_drop_fraction must be finite and >= 0"),
        ({"vibration_min_history": 2.5}, "vibration_min_history must be a whole number"),
        ({"pressure_persist_n": 3.5}, "pressure_persist_n must be a whole number"),
    ],
)
def test_thresholds_from_mapping_rejects_bad_values(data, message):
    with pytest.raises(ValueError, match=message):
        Thresholds.from_mapping(data)


def test_thresholds_name_the_relations_they_break():
    assert Thresholds().problems() == []
    bad = Thresholds(overload_persist_k=5, pressure_clear_fraction=0.4, defrost_high_minutes=30)
    problems = " ".join(bad.problems())
    assert "overload_persist_k (5) must not exceed overload_persist_n (4)" in problems
    assert "pressure_clear_fraction (0.4) must be below pressure_drop_fraction (0.3)" in problems
    assert "defrost_max_minutes (45) must not exceed defrost_high_minutes (30)" in problems


def test_a_set_that_breaks_its_relations_still_runs():
    """A cohort change can leave a device's own override at odds with it: the worker must
    still judge the device (k is capped at n, a clear level at its trip level)."""
    odd = Thresholds(overload_persist_k=6, overload_persist_n=2, overload_clear_factor=3.0)
    state = warm_rack()
    got = feed(state, racks(120, 2, current_compressor=30.0), odd)
    assert [f.rule for f in got] == ["compressor_overload"]
