"""The simulator's covariate shift used by the closed-loop test: a heat wave warms the outdoors
from its start, in its region only, and the physics carries it to the condensing side."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.shift import CovariateShift, ShiftedFleetGenerator

START = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
ONSET = START + timedelta(hours=1)
END = START + timedelta(hours=3)


def frames(region=""):
    fleet = make_fleet(24, seed=8)
    region = region and fleet.devices[0].region
    plain = FleetGenerator(fleet, [], seed=8, events=(), null_rate=0.0).frame(START, END)
    shifted = ShiftedFleetGenerator(
        fleet,
        [],
        seed=8,
        events=(),
        null_rate=0.0,
        shifts=[CovariateShift(start=ONSET, ambient_c=8.0, region=region)],
    )
    return fleet, plain, shifted


def test_a_heat_wave_warms_the_ambient_from_its_start_and_the_condenser_side_follows():
    fleet, plain, shifted = frames()
    hot = shifted.frame(START, END)
    after = hot["timestamp"] >= pd.Timestamp(ONSET)
    exposure = hot["device_id"].map(
        {d.device_id: d.profile.climate_exposure for d in fleet.devices}
    )
    delta = hot["temperature_ambient"] - plain["temperature_ambient"]
    assert (delta[~after].abs() < 1e-9).all()
    # The unit's air warms by up to the outdoor rise, scaled by how much of the outdoors
    # reaches it (display cases sit in store air), most of it within minutes.
    share = delta[after] / (8.0 * exposure[after])
    assert (share > 0).all() and (share <= 1.0 + 1e-9).all()
    settled = hot["timestamp"] >= pd.Timestamp(ONSET + timedelta(minutes=15))
    assert (delta[settled] / (8.0 * exposure[settled])).median() > 0.9
    # Condensing follows ambient (physics §1): higher condenser and high-side pressure.
    walk_ins = after & (exposure == 1.0)
    for sensor in ("temperature_condenser", "pressure_high_side"):
        warmer = (hot[sensor] - plain[sensor])[walk_ins]
        assert warmer.mean() > 0, sensor
    assert (hot["temperature_condenser"] - plain["temperature_condenser"])[walk_ins].mean() > 4


def test_the_shift_stays_in_its_region_and_chunks_add_up():
    fleet, plain, shifted = frames(region="first device's")
    whole = shifted.frame(START, END)
    again = ShiftedFleetGenerator(
        fleet,
        [],
        seed=8,
        events=(),
        null_rate=0.0,
        shifts=shifted.shifts,
        origin=START,
    )
    parts = pd.concat([again.frame(START, ONSET), again.frame(ONSET, END)], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    region = fleet.devices[0].region
    inside = {d.device_id for d in fleet.devices if d.region == region}
    same = np.isclose(whole["temperature_ambient"], plain["temperature_ambient"], equal_nan=True)
    moved = set(whole.loc[~same, "device_id"])
    assert moved and moved <= inside and inside != {d.device_id for d in fleet.devices}
