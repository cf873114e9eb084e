"""Normal refrigeration (physics §1) raises nothing: restart and post-defrost pull-downs,
off-cycle coil warming, restocking, a power loss and its restart; a glitch is a LOW note."""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

import pytest

from scoring.streaming import DeviceState, Firing, Reading, Thresholds, evaluate
from tests.scoring.streaming.shapes import Unit

DEFAULT = Thresholds()
WARM_HOURS = 23  # defrosts, dozens of cycles, most of a day: the device knows itself


def feed(state: DeviceState, readings: Iterable[Reading]) -> list[Firing]:
    return [f for r in readings for f in evaluate(state, r, DEFAULT)]


@pytest.fixture(scope="module")
def warmed() -> tuple[Unit, dict]:
    unit = Unit(seed=1)
    state = DeviceState(unit.device_id)
    assert feed(state, unit.run(WARM_HOURS * 60)) == []
    return unit, state.to_dict()


@pytest.fixture
def device(warmed) -> tuple[Unit, DeviceState]:
    """A freezer 13 h into its life, with the state the rules built from it."""
    unit, state = warmed
    return copy.deepcopy(unit), DeviceState.from_dict(state)


def low_side(readings: list[Reading]) -> list[float]:
    return [r.values["pressure_low_side"] for r in readings]


def test_a_restart_pull_down_after_a_ten_minute_rest_raises_nothing(device):
    unit, state = device
    before = unit.into_rest(1)
    rest = unit.until(True)
    pull_down = unit.run(20)
    # The shape: a rest of 10 min or more equalised the low side, the restart pulled it
    # down by about 30 % within 3 minutes (physics §1).
    assert len(rest) >= 10
    equalised = max(low_side(rest))
    assert equalised > 1.35 * 300
    assert min(low_side(pull_down[:3])) < 0.75 * equalised
    assert feed(state, before + rest + pull_down) == []


def test_a_post_defrost_pull_down_raises_nothing(device):
    unit, state = device
    defrost = unit.until_defrost_ends()
    after = unit.run(90)
    # The shape: the low side falling by 20-40 % within minutes of the restart and the
    # current running high: what the old 5-minute-peak rule took for a leak.
    start = next(i for i, r in enumerate(after) if r.values["current_compressor"] > 5)
    peak = max(low_side(after[: start + 2]))
    assert 1 - min(low_side(after[start : start + 10])) / peak > 0.25
    assert max(r.values["current_compressor"] for r in after) > 1.25 * 12
    assert feed(state, defrost + after) == []


def test_a_long_rest_after_a_post_defrost_pull_down_raises_nothing(device):
    """The first rest after a defrost is its own: the defrost warmed the box, and how far
    the pull-down overshot sets how long the rest lasts. It may outlast every normal rest
    with the coil a little warmer than any of them got (physics §1)."""
    unit, state = device
    lead = unit.until_defrost_ends() + unit.until(True) + unit.run(4)
    assert feed(state, lead) == []
    now = lead[-1].timestamp
    longest, peak = state.context.recent_rests(now.timestamp(), DEFAULT.cooling_rest_hours)
    resting_coil = state.context.coil_run.value(now.timestamp()) + peak + 1.0
    rest = [
        Reading(
            unit.device_id,
            now + timedelta(minutes=i),
            {**lead[-1].values, "current_compressor": 0.1, "temperature_evaporator": resting_coil},
        )
        for i in range(1, int(3 * longest))
    ]
    assert feed(state, rest) == []


def test_off_cycle_coil_warming_raises_nothing(device):
    unit, state = device
    lead = unit.into_rest(1)
    rest = unit.until(True)
    coil = [r.values["temperature_evaporator"] for r in lead[-2:] + rest]
    assert max(coil) - coil[0] > 5  # the coil warmed several K towards the box air
    assert feed(state, lead + rest + unit.run(10)) == []


@pytest.mark.parametrize("minutes", [8, 10, 12])
def test_restocking_with_the_door_open_raises_nothing(device, minutes):
    unit, state = device
    assert feed(state, unit.run(minutes, door=True) + unit.run(60)) == []


@pytest.mark.parametrize("phase", ["running", "resting"])
def test_a_single_wild_reading_is_a_low_data_quality_note(device, phase):
    unit, state = device
    lead = unit.into_run(8) if phase == "running" else unit.into_rest(4)
    assert feed(state, lead) == []
    got = feed(state, [unit.glitch(), *unit.run(30)])
    assert [(f.rule, f.severity) for f in got] == [("sensor_spike", "LOW")]
    assert "47.5 A" in got[0].message
    assert got[0].sensor == "current_compressor"


def test_glitches_now_and_then_never_page_anyone(device):
    unit, state = device
    rng = random.Random(5)
    got = []
    for _ in range(6):
        got += feed(state, unit.run(rng.randint(20, 120)) + [unit.glitch()] + unit.run(2))
    assert {f.severity for f in got} == {"LOW"}
    assert len(got) == 6


def test_a_power_loss_and_its_restart_raise_nothing(device):
    unit, state = device
    assert unit.run(40, powered=False) == []  # nothing is sent while the power is off
    back = unit.run(120)
    assert max(r.values["temperature_evaporator"] for r in back[:3]) > -22  # a warm coil
    assert feed(state, back) == []


def healthy_days(unit: Unit, days: int, seed: int) -> list[Reading]:
    """Days of a healthy unit in a shop: customers opening the door for a minute now and
    then, restocking (8-12 min) a few times a day."""
    rng = random.Random(seed)
    readings: list[Reading] = []
    while len(readings) < days * 24 * 60:
        draw = rng.random()
        if draw < 3 / 1440:
            readings += unit.run(rng.randint(8, 12), door=True)
        elif draw < 0.02:
            readings += unit.run(1, door=True)
        else:
            readings += unit.run(1)
    return readings


EQUIPMENT = {
    "freezer": {},
    "medium_temperature_case": {
        "setpoint": 3.0,
        "td": 9.0,
        "lp_nominal": 450.0,
        "cool_rate": 0.3,
        "tau_box": 200.0,
        "defrost_every_h": 8.0,
        "heater_c": 5.0,
        "equalised": 1.4,
    },
    "small_compressor": {"run_amps": 6.0, "off_amps": 0.05},
    "large_compressor": {"run_amps": 28.0},
    "fast_cycling": {"cool_rate": 0.4, "band": 1.0, "tau_box": 150.0},
    "nearly_continuous": {"cool_rate": 0.12, "band": 2.0, "tau_box": 500.0},
    "never_defrosts": {"defrost_every_h": None},
}


@pytest.mark.parametrize("kind", sorted(EQUIPMENT))
def test_three_healthy_days_raise_nothing(kind):
    unit = Unit(seed=11, **EQUIPMENT[kind])
    state = DeviceState(unit.device_id)
    got = feed(state, healthy_days(unit, 3, seed=11))
    assert Counter((f.rule, f.severity) for f in got) == Counter()


def test_a_device_that_never_defrosts_gets_no_defrost_alert():
    unit = Unit(seed=2, defrost_every_h=None)
    state = DeviceState(unit.device_id)
    got = feed(state, unit.run(4 * 24 * 60))
    assert got == []
    assert not state.context.defrost_starts  # nothing learned, so no overdue rule at all
