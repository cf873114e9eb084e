"""The simulator's covariate shift used by the closed-loop test: a heat wave moves the ambient
and the condenser side from its start on, in its region only, and nothing else."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.shift import CovariateShift, ShiftedFleetGenerator

START = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
ONSET = START + timedelta(minutes=30)


def frames(region=""):
    fleet = make_fleet(24, seed=8)
    region = region and fleet.devices[0].region
    plain = FleetGenerator(fleet, [], seed=8).frame(START, START + timedelta(hours=1))
    shifted = ShiftedFleetGenerator(
        fleet, [], seed=8, shifts=[CovariateShift(start=ONSET, ambient_c=5.0, region=region)]
    )
    return fleet, plain, shifted


def test_a_heat_wave_moves_the_ambient_and_condenser_side_from_its_start():
    fleet, plain, shifted = frames()
    hot = shifted.frame(START, START + timedelta(hours=1))
    after = hot["timestamp"] >= pd.Timestamp(ONSET)
    exposure = hot["device_id"].map(
        {d.device_id: d.profile.climate_exposure for d in fleet.devices}
    )
    delta = hot["temperature_ambient"] - plain["temperature_ambient"]
    assert np.allclose(delta[after].dropna(), (5.0 * exposure[after])[delta[after].notna()])
    assert (delta[~after].dropna() == 0).all()
    condenser = (hot["temperature_condenser"] - plain["temperature_condenser"])[after].dropna()
    assert np.allclose(condenser, (3.0 * exposure[after])[condenser.index], atol=1e-9)
    for untouched in ("temperature_evaporator", "current_compressor", "humidity"):
        pd.testing.assert_series_equal(hot[untouched], plain[untouched])


def test_the_shift_stays_in_its_region_and_chunks_add_up():
    fleet, plain, shifted = frames(region="first device's")
    whole = shifted.frame(START, START + timedelta(hours=1))
    parts = pd.concat(
        [shifted.frame(START, ONSET), shifted.frame(ONSET, START + timedelta(hours=1))],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole, parts)
    region = fleet.devices[0].region
    inside = {d.device_id for d in fleet.devices if d.region == region}
    same = np.isclose(whole["temperature_ambient"], plain["temperature_ambient"], equal_nan=True)
    moved = set(whole.loc[~same, "device_id"])
    assert moved and moved <= inside and inside != {d.device_id for d in fleet.devices}
