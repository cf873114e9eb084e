"""Streaming rules (domain §4.2, D4, D10): thresholds, edge-triggering, suppression, state."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from scoring.streaming import RULES, DeviceState, Firing, Reading, Thresholds, evaluate

T0 = datetime(2025, 1, 6, tzinfo=UTC)
DEVICE = "dev-1"
DEFAULT = Thresholds()
# A healthy unit (domain §1.1 baselines), one reading a minute.
BASELINE: dict[str, float | bool | None] = {
    "current_compressor": 12.0,
    "vibration_compressor": 3.0,
    "pressure_low_side": 200.0,
    "temperature_evaporator": -20.0,
    "door_open_close": False,
    "defrost_cycle": False,
}


def reading(minute: float, **values: float | bool | None) -> Reading:
    """Build a baseline reading `minute` minutes after T0 with some sensors overridden."""
    return Reading(DEVICE, T0 + timedelta(minutes=minute), {**BASELINE, **values})


def feed(
    state: DeviceState, readings: Iterable[Reading], thresholds: Thresholds = DEFAULT
) -> list[Firing]:
    """Evaluate readings in order and return all firings."""
    return [f for r in readings for f in evaluate(state, r, thresholds)]


def rules(firings: Iterable[Firing]) -> list[str]:
    return [f.rule for f in firings]


def at(firings: Iterable[Firing]) -> list[tuple[str, float]]:
    """Return (rule, minute after T0) for each firing."""
    return [(f.rule, (f.at - T0).total_seconds() / 60) for f in firings]


def warm(minutes: int = 60) -> DeviceState:
    """Return a state that has seen `minutes` baseline readings (enough vibration history)."""
    state = DeviceState(DEVICE)
    assert feed(state, (reading(m) for m in range(minutes))) == []
    return state


def test_severities_follow_d4_and_d10():
    severities = {name: spec.severity for name, spec in RULES.items()}
    assert severities == {
        "compressor_overload": "CRITICAL",
        "vibration_spike": "CRITICAL",
        "pressure_loss_acute": "CRITICAL",
        "cooling_loss_total": "CRITICAL",
        "defrost_too_long": "MEDIUM",
        "defrost_overdue": "MEDIUM",
        "door_open_too_long": "HIGH",
    }


# Compressor overload ------------------------------------------------------------------------


@pytest.mark.parametrize(("amps", "fires"), [(39.9, False), (40.0, False), (40.1, True)])
def test_compressor_overload_at_default_threshold(amps, fires):
    assert rules(feed(warm(5), [reading(5, current_compressor=amps)])) == (
        ["compressor_overload"] if fires else []
    )


@pytest.mark.parametrize(("amps", "fires"), [(30.0, False), (30.5, True)])
def test_compressor_overload_with_device_threshold(amps, fires):
    custom = Thresholds(compressor_overload_amps=30)
    got = feed(warm(5), [reading(5, current_compressor=amps)], custom)
    assert rules(got) == (["compressor_overload"] if fires else [])


def test_compressor_overload_firing_describes_itself():
    (firing,) = feed(warm(5), [reading(5, current_compressor=45.2)])
    assert firing == Firing(
        rule="compressor_overload",
        severity="CRITICAL",
        device_id=DEVICE,
        at=T0 + timedelta(minutes=5),
        sensor="current_compressor",
        value=45.2,
        threshold=40.0,
        evidence=((T0 + timedelta(minutes=5), 45.2),),
        message="Compressor current 45.2 A above 40 A",
    )


def test_compressor_overload_fires_once_per_episode_and_again_after_it_clears():
    amps = [45, 46, 47, 12, 45, 45]
    got = feed(warm(5), (reading(5 + i, current_compressor=a) for i, a in enumerate(amps)))
    assert at(got) == [("compressor_overload", 5), ("compressor_overload", 9)]


def test_missing_value_neither_fires_nor_rearms():
    values = [45, None, 45, 12, 45]
    got = feed(warm(5), (reading(5 + i, current_compressor=v) for i, v in enumerate(values)))
    assert at(got) == [("compressor_overload", 5), ("compressor_overload", 9)]


# Vibration spike ----------------------------------------------------------------------------


@pytest.mark.parametrize(("vibration", "fires"), [(9.0, False), (9.01, True)])
def test_vibration_spike_at_three_times_the_24h_average(vibration, fires):
    got = feed(warm(60), [reading(60, vibration_compressor=vibration)])
    assert rules(got) == (["vibration_spike"] if fires else [])


def test_vibration_spike_is_not_in_the_average_it_is_compared_with():
    # 9.2 > 3 x 3.0, but with itself averaged in the limit would be 3 x 189.2 / 61 = 9.30.
    (firing,) = feed(warm(60), [reading(60, vibration_compressor=9.2)])
    assert firing.threshold == pytest.approx(9.0)
    assert firing.evidence == ((T0 + timedelta(minutes=60), 9.2),)


def test_vibration_spike_waits_for_enough_history():
    assert feed(warm(59), [reading(59, vibration_compressor=50.0)]) == []
    custom = Thresholds(vibration_min_history=10)
    assert rules(feed(warm(10), [reading(10, vibration_compressor=9.5)], custom)) == [
        "vibration_spike"
    ]


@pytest.mark.parametrize(("vibration", "fires"), [(6.0, False), (6.1, True)])
def test_vibration_spike_with_device_factor(vibration, fires):
    custom = Thresholds(vibration_spike_factor=2.0)
    got = feed(warm(60), [reading(60, vibration_compressor=vibration)], custom)
    assert rules(got) == (["vibration_spike"] if fires else [])


def test_vibration_average_forgets_readings_older_than_24h():
    state = DeviceState(DEVICE)
    feed(state, (reading(m, vibration_compressor=1.0) for m in range(60)))
    later = 25 * 60
    feed(state, (reading(later + m) for m in range(60)))
    # With the old 1.0 readings still averaged in, the limit would be 6 and 8 would fire.
    assert feed(state, [reading(later + 60, vibration_compressor=8.0)]) == []


# Acute pressure loss ------------------------------------------------------------------------


@pytest.mark.parametrize(("pressure", "fires"), [(141.0, False), (140.0, False), (139.0, True)])
def test_pressure_loss_at_thirty_percent_below_the_five_minute_peak(pressure, fires):
    got = feed(warm(10), [reading(10, pressure_low_side=pressure)])
    assert rules(got) == (["pressure_loss_acute"] if fires else [])


def test_pressure_loss_evidence_is_the_peak_and_the_low_reading():
    state = warm(3)
    feed(state, [reading(3, pressure_low_side=210.0), reading(4, pressure_low_side=180.0)])
    (firing,) = feed(state, [reading(5, pressure_low_side=140.0)])
    assert firing.evidence == (
        (T0 + timedelta(minutes=3), 210.0),
        (T0 + timedelta(minutes=5), 140.0),
    )
    assert firing.threshold == pytest.approx(147.0)
    assert firing.message == "Low-side pressure fell 33% in 2 min, from 210 to 140 kPa"


@pytest.mark.parametrize(("minute", "fires"), [(5, True), (5.5, False)])
def test_pressure_peak_leaves_the_window_after_five_minutes(minute, fires):
    state = DeviceState(DEVICE)
    # The only earlier low-side reading is at minute 0; the sensor is silent in between.
    feed(state, [reading(0)] + [reading(m, pressure_low_side=None) for m in (1, 2, 3, 4)])
    got = feed(state, [reading(minute, pressure_low_side=100.0)])
    assert rules(got) == (["pressure_loss_acute"] if fires else [])


def test_pressure_loss_with_device_fraction_and_window():
    custom = Thresholds(pressure_drop_fraction=0.1, pressure_drop_window_min=2)
    state = warm(3)
    assert rules(feed(state, [reading(3, pressure_low_side=179.0)], custom)) == [
        "pressure_loss_acute"
    ]
    # A slow leak (5 kPa a minute) never loses 10 % within 2 minutes.
    slow = (reading(10 + m, pressure_low_side=200.0 - 5 * m) for m in range(20))
    assert feed(warm(10), slow, custom) == []


def test_pressure_loss_fires_once_while_low_and_again_after_recovery():
    lows = [100.0, 100.0, 100.0]
    state = warm(5)
    got = feed(state, (reading(5 + i, pressure_low_side=p) for i, p in enumerate(lows)))
    got += feed(state, (reading(8 + m) for m in range(3)))
    got += feed(state, [reading(11, pressure_low_side=100.0)])
    assert at(got) == [("pressure_loss_acute", 5), ("pressure_loss_acute", 11)]


# Total cooling loss -------------------------------------------------------------------------


def rise(start: float, count: int, rate: float, step: float = 1.0) -> list[Reading]:
    """Return `count` readings from minute `start`, `step` minutes apart, rising at `rate`/min."""
    return [
        reading(start + i * step, temperature_evaporator=-20.0 + rate * i * step)
        for i in range(count)
    ]


def test_cooling_loss_needs_three_minutes_of_fast_rise():
    state = warm(10)
    assert feed(state, rise(10, 3, 2.5)) == []  # two steps: only 2 minutes
    (firing,) = feed(state, [reading(13, temperature_evaporator=-12.5)])
    assert firing.rule == "cooling_loss_total"
    assert firing.evidence == tuple(
        (T0 + timedelta(minutes=10 + i), -20.0 + 2.5 * i) for i in range(4)
    )
    assert firing.value == pytest.approx(2.5)
    assert firing.threshold == 2.0


@pytest.mark.parametrize(("rate", "fires"), [(2.0, False), (2.1, True)])
def test_cooling_loss_at_two_degrees_per_minute(rate, fires):
    got = feed(warm(10), rise(10, 4, rate))
    assert rules(got) == (["cooling_loss_total"] if fires else [])


def test_cooling_loss_with_device_thresholds():
    custom = Thresholds(evap_rise_c_per_min=1.0, evap_rise_minutes=2)
    assert at(feed(warm(10), rise(10, 3, 1.5), custom)) == [("cooling_loss_total", 12)]


def test_cooling_loss_uses_elapsed_time_not_reading_count():
    # Every 30 s: six steps make the three minutes.
    assert at(feed(warm(10), rise(10, 8, 2.5, step=0.5))) == [("cooling_loss_total", 13)]
    # Every 2 min: two steps already cover four minutes.
    assert at(feed(warm(10), rise(10, 3, 2.5, step=2))) == [("cooling_loss_total", 14)]


def test_cooling_loss_sequence_resets_on_a_gap():
    readings = rise(10, 8, 2.5)
    silent = readings[2].values | {"temperature_evaporator": None}
    readings[2] = Reading(DEVICE, readings[2].timestamp, silent)
    # The run restarts at minute 13 and needs until minute 16.
    assert at(feed(warm(10), readings)) == [("cooling_loss_total", 16)]
    # A jump over a long time gap is no evidence of a sustained rise either.
    assert feed(warm(10), rise(10, 3, 2.5, step=3)) == []


def test_cooling_loss_fires_once_and_again_after_the_rise_stops():
    state = warm(10)
    got = feed(state, rise(10, 8, 2.5))
    got += feed(state, [reading(18, temperature_evaporator=-2.5)])  # flat: cleared
    got += feed(state, [reading(19 + i, temperature_evaporator=2.5 * (i + 1)) for i in range(3)])
    assert at(got) == [("cooling_loss_total", 13), ("cooling_loss_total", 21)]


def test_cooling_loss_is_suppressed_during_defrost():
    state = warm(10)
    heating = [
        reading(10 + i, defrost_cycle=True, temperature_evaporator=-20.0 + 3 * i) for i in range(10)
    ]
    assert feed(state, heating) == []


def test_cooling_loss_is_suppressed_after_defrost_and_fires_right_after_the_delay():
    state = warm(10)
    feed(state, (reading(m, defrost_cycle=True) for m in range(10, 31)))
    feed(state, (reading(m) for m in range(31, 50)))
    # The defrost ends at minute 31, so suppression lasts until minute 61.
    got = feed(
        state, (reading(m, temperature_evaporator=-20.0 + 2.5 * (m - 50)) for m in range(50, 65))
    )
    assert at(got) == [("cooling_loss_total", 61)]


def test_cooling_loss_post_defrost_delay_is_a_device_setting():
    state = warm(10)
    feed(state, (reading(m, defrost_cycle=True) for m in range(10, 20)))
    custom = Thresholds(post_defrost_minutes=5)
    got = feed(state, rise(20, 6, 2.5), custom)
    assert at(got) == [("cooling_loss_total", 25)]


# Door and defrost ---------------------------------------------------------------------------


@pytest.mark.parametrize(("minute", "fires"), [(25, False), (26, True)])
def test_door_open_too_long_after_fifteen_minutes(minute, fires):
    state = warm(10)
    got = feed(state, (reading(m, door_open_close=True) for m in range(10, minute + 1)))
    assert at(got) == ([("door_open_too_long", minute)] if fires else [])
    if fires:
        assert got[0].evidence == ((T0 + timedelta(minutes=10), 1.0), (got[0].at, 1.0))
        assert got[0].message == "Door open for 16 min, over 15 min"


def test_door_open_fires_once_per_opening():
    state = warm(10)
    got = feed(state, (reading(m, door_open_close=True) for m in range(10, 40)))
    got += feed(state, [reading(40)])
    got += feed(state, (reading(m, door_open_close=True) for m in range(41, 60)))
    assert at(got) == [("door_open_too_long", 26), ("door_open_too_long", 57)]


def test_door_open_with_device_limit_and_silent_switch():
    custom = Thresholds(door_open_max_minutes=5)
    state = warm(10)
    feed(state, [reading(10, door_open_close=True)], custom)
    # A silent door switch keeps the episode open and decides nothing.
    assert feed(state, (reading(m, door_open_close=None) for m in range(11, 20)), custom) == []
    assert at(feed(state, [reading(20, door_open_close=True)], custom)) == [
        ("door_open_too_long", 20)
    ]


@pytest.mark.parametrize(("minute", "fires"), [(55, False), (56, True)])
def test_defrost_too_long_after_forty_five_minutes(minute, fires):
    state = warm(10)
    got = feed(state, (reading(m, defrost_cycle=True) for m in range(10, minute + 1)))
    assert at(got) == ([("defrost_too_long", minute)] if fires else [])


def test_defrost_too_long_fires_once_per_defrost():
    state = warm(10)
    custom = Thresholds(defrost_max_minutes=20)
    got = feed(state, (reading(m, defrost_cycle=True) for m in range(10, 50)), custom)
    got += feed(state, [reading(50)], custom)
    got += feed(state, (reading(m, defrost_cycle=True) for m in range(51, 80)), custom)
    assert at(got) == [("defrost_too_long", 31), ("defrost_too_long", 72)]


def hourly(state: DeviceState, hours: Iterable[float], **values: bool) -> list[Firing]:
    """Feed one baseline reading per listed hour (the rules only look at timestamps)."""
    return feed(state, (reading(h * 60, **values) for h in hours))


def test_defrost_overdue_after_twice_the_interval_from_the_first_reading():
    state = DeviceState(DEVICE)
    assert hourly(state, range(17)) == []  # 16 h exactly is not overdue
    (firing,) = feed(state, [reading(16 * 60 + 1)])
    assert (firing.rule, firing.severity, firing.threshold) == ("defrost_overdue", "MEDIUM", 16.0)
    assert firing.evidence[0] == (T0, 0.0)
    assert hourly(state, range(17, 30)) == []  # once per episode


def test_defrost_overdue_counts_from_the_last_defrost_end_and_rearms():
    state = DeviceState(DEVICE)
    custom = Thresholds(defrost_interval_hours=1)
    got = feed(state, [reading(0), reading(121)], custom)
    got += feed(state, [reading(130, defrost_cycle=True), reading(150)], custom)
    got += feed(state, [reading(270), reading(271)], custom)
    assert at(got) == [("defrost_overdue", 121), ("defrost_overdue", 271)]


# Ordering, replay and persistence -----------------------------------------------------------


def test_duplicate_and_out_of_order_readings_are_ignored():
    state = warm(10)
    late = reading(10, current_compressor=45.0)
    assert rules(feed(state, [late])) == ["compressor_overload"]
    snapshot = state.to_dict()
    assert feed(state, [late, reading(5, current_compressor=45.0, door_open_close=True)]) == []
    assert state.to_dict() == snapshot


def test_empty_or_silent_readings_do_not_fire_or_break_state():
    state = warm(10)
    blank = Reading(DEVICE, T0 + timedelta(minutes=10), {})
    silent = Reading(DEVICE, T0 + timedelta(minutes=11), dict.fromkeys(BASELINE))
    assert feed(state, [blank, silent]) == []
    assert rules(feed(state, [reading(12, current_compressor=41.0)])) == ["compressor_overload"]


def test_reading_accepts_numpy_scalars_and_numeric_flags():
    values = {"current_compressor": np.float32(45.5), "door_open_close": np.bool_(True)}
    got = Reading(DEVICE, T0, {**values, "defrost_cycle": 1.0, "humidity": float("nan")})
    assert got.number("current_compressor") == 45.5
    assert got.flag("door_open_close") is True
    assert got.flag("defrost_cycle") is True
    assert got.number("humidity") is None
    assert got.number("door_open_close") is None


def test_reading_requires_an_aware_timestamp_and_the_right_device():
    with pytest.raises(ValueError, match="timezone-aware"):
        Reading(DEVICE, datetime(2025, 1, 6), {})
    with pytest.raises(ValueError, match="dev-2"):
        evaluate(DeviceState(DEVICE), Reading("dev-2", T0, {}), DEFAULT)


def scenario() -> list[Reading]:
    """Return 26 h of readings with every kind of event, seeded."""
    rng = random.Random(7)
    readings = []
    for m in range(0, 26 * 60, 3):
        values: dict[str, float | bool | None] = {
            "vibration_compressor": 3.0 + rng.uniform(-0.5, 0.5),
            "pressure_low_side": 200.0 + rng.uniform(-5, 5),
            "defrost_cycle": 480 <= m < 540,
            "door_open_close": 1500 <= m,
        }
        if m in (600, 603):
            values["current_compressor"] = 45.0
        if m == 1200:
            values["vibration_compressor"] = 20.0
        if m == 1470:
            values["pressure_low_side"] = 100.0
        readings.append(reading(m, **values))
    return readings


def test_from_history_rebuilds_the_live_state():
    readings = scenario()
    split = len(readings) - 10
    live = DeviceState(DEVICE)
    live_firings = feed(live, readings[:split])
    assert set(rules(live_firings)) >= {
        "compressor_overload",
        "vibration_spike",
        "pressure_loss_acute",
        "defrost_too_long",
        "door_open_too_long",
    }
    history = readings[:split]
    random.Random(1).shuffle(history)
    rebuilt = DeviceState.from_history(history, DEFAULT)
    assert rebuilt.to_dict() == live.to_dict()
    tail = readings[split:] + [reading(26 * 60, current_compressor=50.0)]
    assert feed(rebuilt, tail) == feed(live, tail)


def test_from_history_without_readings_needs_a_device_id():
    with pytest.raises(ValueError, match="device_id"):
        DeviceState.from_history([], DEFAULT)
    assert DeviceState.from_history([], DEFAULT, device_id=DEVICE) == DeviceState(DEVICE)


def test_state_round_trips_through_json():
    readings = scenario()
    state = DeviceState.from_history(readings[:-5], DEFAULT)
    copy = DeviceState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy == state
    assert feed(copy, readings[-5:]) == feed(state, readings[-5:])
    with pytest.raises(ValueError, match="version"):
        DeviceState.from_dict({**state.to_dict(), "version": 99})


# Thresholds ---------------------------------------------------------------------------------


def test_thresholds_from_mapping_ignores_unknown_keys():
    got = Thresholds.from_mapping(
        {"compressor_overload_amps": "35", "vibration_min_history": 30.0, "colour": "blue"}
    )
    assert got == Thresholds(compressor_overload_amps=35.0, vibration_min_history=30)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"door_open_max_minutes": "soon"}, "door_open_max_minutes must be a number"),
        ({"compressor_overload_amps": None}, "compressor_overload_amps must be a number"),
        ({"evap_rise_minutes": True}, "evap_rise_minutes must be a number"),
        ({"pressure_drop_fraction": -0.1}, "pressure_drop_fraction must be finite and >= 0"),
        ({"vibration_min_history": 2.5}, "vibration_min_history must be a whole number"),
    ],
)
def test_thresholds_from_mapping_rejects_bad_values(data, message):
    with pytest.raises(ValueError, match=message):
        Thresholds.from_mapping(data)
