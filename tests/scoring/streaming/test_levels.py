"""Trip levels, persistence (k of the last n readings) and clear levels, at and around each.

A rack under capacity control runs continuously with still readings (12 A, 300 kPa low
side, -27 °C coil, 3 mm/s), so each value can sit exactly at, under or over a level.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from scoring.streaming import DeviceState, Reading, Thresholds, evaluate
from tests.scoring.streaming.shapes import T0, rack, racks

DEFAULT = Thresholds()
START = 120  # minutes of warm-up: every baseline learned


def feed(
    state: DeviceState,
    readings: Iterable[Reading],
    thresholds: Thresholds = DEFAULT,
    *,
    notes: bool = False,
) -> list[tuple[str, str, float]]:
    """(rule, severity, minute) of every firing; LOW sensor-spike notes only if `notes`."""
    return [
        (f.rule, f.severity, (f.at - T0).total_seconds() / 60)
        for r in readings
        for f in evaluate(state, r, thresholds)
        if notes or f.rule != "sensor_spike"
    ]


@pytest.fixture
def state() -> DeviceState:
    warmed = DeviceState("dev-1")
    assert feed(warmed, racks(0, START)) == []
    return warmed


def series(sensor: str, values: Iterable[float | None], start: int = START) -> list[Reading]:
    return [rack(start + i, **{sensor: v}) for i, v in enumerate(values)]


# Compressor overload: in a steady run trips over 1.35 x 12 A = 16.2 A; in a pull-down (a
# run's first minutes, defrost recovery, restart) over 1.6 x 12 A = 19.2 A; 3 of 4.


@pytest.mark.parametrize(("amps", "fires"), [(16.2, False), (16.3, True)])
def test_overload_trips_just_over_1_35_times_the_running_current_in_a_steady_run(
    state, amps, fires
):
    got = feed(state, series("current_compressor", [amps] * 3))
    assert got == ([("compressor_overload", "CRITICAL", START + 2)] if fires else [])


@pytest.mark.parametrize(("amps", "fires"), [(19.2, False), (19.3, True)])
def test_a_pull_down_after_defrost_is_judged_at_1_6_times(state, amps, fires):
    defrost = racks(START, 25, defrost_cycle=True, current_compressor=0.1)
    assert feed(state, defrost) == []
    # Recovering from defrost (D10's 30 min): the pull-down's level, not the steady one.
    got = feed(state, series("current_compressor", [amps] * 10, START + 25))
    assert got == ([("compressor_overload", "CRITICAL", START + 27)] if fires else [])


def test_a_run_is_judged_at_1_6_times_until_it_is_steady(state):
    assert feed(state, racks(START, 10, current_compressor=0.1)) == []
    # 18 A (1.5x): a restart's pull-down in its first minutes; overload once steady.
    got = feed(state, series("current_compressor", [18.0] * 8, START + 10))
    assert got == [("compressor_overload", "CRITICAL", START + 10 + 5)]


@pytest.mark.parametrize(
    ("amps", "fired_at"),
    [
        ([30, 30], None),  # k - 1 readings
        ([30, 30, 30], 2),  # k in a row
        ([30, 12, 30, 30], 3),  # k of the last n
        ([30, 12, 12, 30, 30], None),  # k, but not within n
        ([30, 12, 12, 30, 30, 30], 5),
    ],
)
def test_overload_needs_k_of_the_last_n_readings(state, amps, fired_at):
    got = feed(state, series("current_compressor", amps))  # lone trips are LOW notes
    assert got == (
        [] if fired_at is None else [("compressor_overload", "CRITICAL", START + fired_at)]
    )


def test_overload_clears_only_under_its_clear_level_for_k_readings(state):
    # Levels that floats hold exactly: trips over 1.5 x 12 = 18 A, clears under 15 A.
    t = Thresholds(overload_factor=1.5, overload_steady_factor=1.5, overload_clear_factor=1.25)
    trip = series("current_compressor", [30, 30, 30])
    assert [g[0] for g in feed(state, trip, t)] == ["compressor_overload"]
    # Between the clear level and the trip level: still the same episode.
    steps = [17, 17, 17, 17, 30, 30, 30]
    steps += [15.0, 15.0, 15.0, 30, 30, 30]  # at the clear level: not clear
    steps += [14.9, 14.9, 30, 30, 30]  # under it, but fewer than k readings in a row
    assert feed(state, series("current_compressor", steps, START + 3), t) == []
    rearm = series("current_compressor", [14.9, 14.9, 14.9, 30, 30, 30], START + 21)
    assert feed(state, rearm, t) == [("compressor_overload", "CRITICAL", START + 26)]


def test_a_steady_overload_clears_under_its_clear_factor_of_the_running_current(state):
    # Steady trip at 1.2 x 12 = 14.4 A; it clears under min(1.3, 1.2) x 12 = 14.4 A, so a
    # normal 12 A run re-arms it however low the steady factor is set.
    t = Thresholds(overload_steady_factor=1.2)
    assert [g[0] for g in feed(state, series("current_compressor", [15] * 3), t)] == [
        "compressor_overload"
    ]
    assert feed(state, series("current_compressor", [14.4] * 3 + [15] * 3, START + 3), t) == []
    again = series("current_compressor", [12] * 3 + [15] * 3, START + 9)
    assert feed(state, again, t) == [("compressor_overload", "CRITICAL", START + 14)]


def test_a_lone_tripping_reading_is_a_low_note_when_the_next_contradicts_it(state):
    got = feed(state, series("current_compressor", [30, 12, 12]), notes=True)
    assert got == [("sensor_spike", "LOW", START + 1)]
    assert feed(state, series("current_compressor", [30, 30, 12], START + 3), notes=True) == []


def test_overload_persistence_is_a_per_device_setting(state):
    quick = Thresholds(overload_persist_k=1, overload_persist_n=1)
    assert feed(state, series("current_compressor", [30]), quick) == [
        ("compressor_overload", "CRITICAL", START)
    ]


# Low-side pressure loss: in a steady run trips under 0.7 x 300 = 210 kPa, in a pull-down
# under 0.6 x 300 = 180 kPa; clears from 255 kPa, 2 of 3.


@pytest.mark.parametrize(("kpa", "fires"), [(210.0, False), (209.9, True)])
def test_low_side_loss_trips_just_under_70_percent_of_its_running_low_side(state, kpa, fires):
    got = feed(state, series("pressure_low_side", [kpa] * 3))
    assert got == ([("pressure_loss_acute", "CRITICAL", START + 1)] if fires else [])


def test_low_side_loss_needs_two_of_three_readings(state):
    assert feed(state, series("pressure_low_side", [150, 300, 300])) == []
    got = feed(state, series("pressure_low_side", [150, 300, 150], START + 3))
    assert got == [("pressure_loss_acute", "CRITICAL", START + 5)]


def test_low_side_loss_clears_from_85_percent_for_k_readings(state):
    assert feed(state, series("pressure_low_side", [150] * 3))
    # Under the clear level (250 < 255), and one reading over it, do not re-arm it.
    steps = [250] * 5 + [150] * 3 + [255] + [150] * 3
    assert feed(state, series("pressure_low_side", steps, START + 3)) == []
    rearm = series("pressure_low_side", [255] * 2 + [150] * 2, START + 15)
    assert feed(state, rearm) == [("pressure_loss_acute", "CRITICAL", START + 18)]


def test_a_low_side_lost_at_a_restart_is_called_on_the_runs_third_reading(state):
    resting = racks(START, 10, current_compressor=0.1, pressure_low_side=460.0)
    assert feed(state, resting) == []
    # Two readings confirm the run, the second and third are beyond the pull-down level.
    got = feed(state, series("pressure_low_side", [150] * 8, START + 10))
    assert got == [("pressure_loss_acute", "CRITICAL", START + 10 + 2)]


def test_a_silent_current_reading_does_not_hold_back_a_low_side_loss(state):
    resting = racks(START, 10, current_compressor=0.1, pressure_low_side=460.0)
    assert feed(state, resting) == []
    low = series("pressure_low_side", [150] * 8, START + 10)
    low[2] = rack(START + 12, current_compressor=None, pressure_low_side=150.0)
    assert feed(state, low) == [("pressure_loss_acute", "CRITICAL", START + 10 + 2)]


@pytest.mark.parametrize(("kpa", "fired_at"), [(180.0, 4), (179.9, 2)])
def test_a_runs_first_minutes_are_judged_at_the_pull_down_level(state, kpa, fired_at):
    resting = racks(START, 10, current_compressor=0.1, pressure_low_side=460.0)
    assert feed(state, resting) == []
    # At 180 kPa (60 %) the pull-down level holds; from run minute 3 the steady one trips.
    got = feed(state, series("pressure_low_side", [kpa] * 8, START + 10))
    assert got == [("pressure_loss_acute", "CRITICAL", START + 10 + fired_at)]
    longer = Thresholds(min_run_minutes=6)
    fresh = DeviceState("dev-1")
    feed(fresh, racks(0, START), longer)
    feed(fresh, resting, longer)
    got = feed(fresh, series("pressure_low_side", [190] * 10, START + 10), longer)
    assert got == [("pressure_loss_acute", "CRITICAL", START + 10 + 7)]


@pytest.mark.parametrize(("kpa", "fired_at"), [(190.0, 30 + 1), (150.0, 2)])
def test_after_defrost_the_low_side_is_judged_at_the_pull_down_level(state, kpa, fired_at):
    defrost = racks(START, 25, defrost_cycle=True, current_compressor=0.1)
    low = series("pressure_low_side", [kpa] * 40, START + 25)
    got = feed(state, defrost + low)
    # Defrost ends at START + 25. Half the running low side is a loss at once (k = 2
    # readings, the first confirming the run); 63 % waits out the 30 min recovery.
    assert got == [("pressure_loss_acute", "CRITICAL", START + 25 + fired_at)]


# Cooling loss while running: a coil rise of 3 K over 5 min trips; 2 of 3; clears within 3 K.


def coil_rise(per_minute: float, minutes: int, start: int = START) -> list[Reading]:
    return series("temperature_evaporator", [-27.0 + per_minute * i for i in range(minutes)], start)


@pytest.mark.parametrize(("per_minute", "fired_at"), [(0.58, None), (0.6, 6)])
def test_cooling_loss_trips_at_a_3_k_rise_in_5_min_of_running(state, per_minute, fired_at):
    got = feed(state, coil_rise(per_minute, 12))
    assert got == (
        [] if fired_at is None else [("cooling_loss_total", "CRITICAL", START + fired_at)]
    )


def test_cooling_loss_clears_with_the_coil_back_within_3_k_of_its_running_level(state):
    assert feed(state, coil_rise(1.0, 7)) == [("cooling_loss_total", "CRITICAL", START + 4)]
    held = series("temperature_evaporator", [-20.0] * 10 + [-23.9] * 4, START + 7)
    assert feed(state, held) == []  # warm and not rising (no trip), but not clear either
    back = series("temperature_evaporator", [-24.1, -24.1], START + 21)
    assert feed(state, back) == []
    assert state.level("cooling_loss_total") is None
    assert feed(state, coil_rise(1.0, 7, START + 23)) == [
        ("cooling_loss_total", "CRITICAL", START + 27)
    ]


@pytest.fixture
def known_rack() -> DeviceState:
    """The rack after 21 h: it has never rested, so it is known to run continuously."""
    warmed = DeviceState("dev-1")
    assert feed(warmed, racks(0, 21 * 60)) == []
    return warmed


@pytest.mark.parametrize(("coil", "fires"), [(-24.1, False), (-24.0, True)])
def test_a_stopped_rack_is_a_cooling_loss_with_its_coil_3_k_up(known_rack, coil, fires):
    stopped = racks(21 * 60, 6, current_compressor=0.1, temperature_evaporator=coil)
    got = feed(known_rack, stopped)
    # Stopped from minute 0 (two readings confirm it); 2 min is longer than any rest of a
    # rack that never rests; 2 of 3 readings.
    assert got == ([("cooling_loss_total", "CRITICAL", 21 * 60 + 3)] if fires else [])


# Vibration: trips over 3 x 3.0 = 9 mm/s, clears under 2 x 3.0 = 6 mm/s, 3 of 5.


@pytest.mark.parametrize(("mms", "fires"), [(9.0, False), (9.1, True)])
def test_vibration_trips_just_over_three_times_its_running_average(state, mms, fires):
    got = feed(state, series("vibration_compressor", [mms] * 3))
    assert got == ([("vibration_spike", "CRITICAL", START + 2)] if fires else [])


def test_vibration_needs_3_of_5_and_clears_under_twice_its_average(state):
    assert feed(state, series("vibration_compressor", [12, 3, 12, 3, 3, 12, 3])) == []
    # Readings 5, 7 and 9 make 3 of the last 5.
    assert feed(state, series("vibration_compressor", [12, 3, 12, 12], START + 7)) == [
        ("vibration_spike", "CRITICAL", START + 9)
    ]
    steps = [7.0] * 5 + [12.0] * 3 + [5.9, 5.9, 12, 12, 12]
    assert feed(state, series("vibration_compressor", steps, START + 11)) == []
    rearm = series("vibration_compressor", [5.9] * 3 + [12.0] * 3, START + 24)
    assert feed(state, rearm) == [("vibration_spike", "CRITICAL", START + 29)]


def test_a_resting_compressors_vibration_is_not_judged(state):
    resting = racks(START, 10, current_compressor=0.1, vibration_compressor=0.0)
    knocks = [
        rack(START + 10 + i, current_compressor=0.1, vibration_compressor=20.0) for i in range(5)
    ]
    assert feed(state, resting + knocks) == []


# Duration rules: door (D10), defrost length and overdue.


@pytest.mark.parametrize(("minute", "fires"), [(15, False), (16, True)])
def test_door_open_fires_past_fifteen_minutes(state, minute, fires):
    got = feed(state, racks(START, minute + 1, door_open_close=True))
    assert got == ([("door_open_too_long", "HIGH", START + minute)] if fires else [])


def test_door_open_fires_once_per_opening(state):
    got = feed(state, racks(START, 30, door_open_close=True) + [rack(START + 30)])
    got += feed(state, racks(START + 31, 20, door_open_close=True))
    assert got == [
        ("door_open_too_long", "HIGH", START + 16),
        ("door_open_too_long", "HIGH", START + 31 + 16),
    ]


@pytest.mark.parametrize(("minute", "fires"), [(45, False), (46, True)])
def test_a_defrost_is_medium_past_45_minutes_before_its_usual_length_is_known(state, minute, fires):
    got = feed(state, racks(START, minute + 1, defrost_cycle=True, current_compressor=0.1))
    assert got == ([("defrost_too_long", "MEDIUM", START + minute)] if fires else [])


@pytest.mark.parametrize(("hours", "fires"), [(16, False), (16.02, True)])
def test_one_defrost_seen_means_overdue_after_twice_the_default_interval(state, hours, fires):
    feed(state, racks(START, 20, defrost_cycle=True, current_compressor=0.1))
    minutes = round(hours * 60)
    hourly = [rack(START + m) for m in range(20, minutes, 30)] + [rack(START + minutes)]
    got = feed(state, hourly)
    assert got == ([("defrost_overdue", "MEDIUM", START + minutes)] if fires else [])
