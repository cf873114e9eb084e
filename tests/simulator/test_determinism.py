"""The generator's contract: columns, order, determinism, chunk independence, origin."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.events import plan_events
from fleetmon.simulator.faults import FaultSpec, FaultType, plan_faults
from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from tests.simulator.helpers import DAY, HOUR, MINUTE, T0

EVAP = "temperature_evaporator"


@pytest.fixture(scope="module")
def small():
    return make_fleet(24, seed=9)


def test_same_seed_gives_identical_frames(small):
    first = FleetGenerator(small, [], seed=1).frame(T0, T0 + 3 * HOUR)
    second = FleetGenerator(small, [], seed=1).frame(T0, T0 + 3 * HOUR)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_different_seeds_give_different_values(small):
    first = FleetGenerator(small, [], seed=1).frame(T0, T0 + 3 * HOUR, with_state=True)
    second = FleetGenerator(small, [], seed=2).frame(T0, T0 + 3 * HOUR, with_state=True)
    assert not np.allclose(first[EVAP], second[EVAP], equal_nan=True)


def test_chunked_frames_equal_the_whole_frame_with_faults_and_events(small):
    end = T0 + 2 * DAY
    faults = plan_faults(small, seed=9, start=T0, end=end, fraction=0.5)
    events = plan_events(small, seed=9, start=T0, end=end, hot_afternoons=1, power_losses=1)
    whole = FleetGenerator(small, faults, seed=9, events=events).frame(T0, end)
    chunked_generator = FleetGenerator(small, faults, seed=9, events=events)
    cut = T0 + timedelta(hours=17, minutes=23)
    chunked = pd.concat(
        [chunked_generator.frame(T0, cut), chunked_generator.frame(cut, end)], ignore_index=True
    )
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)


def test_minute_by_minute_frames_equal_the_whole_frame(small):
    faults = plan_faults(small, seed=10, start=T0, end=T0 + 4 * HOUR, fraction=1)
    generator = FleetGenerator(small, faults, seed=10, origin=T0)
    minutes = [T0 + HOUR + m * MINUTE for m in range(0, 121)]
    pieces = [generator.frame(a, b) for a, b in zip(minutes, minutes[1:], strict=False)]
    whole = FleetGenerator(small, faults, seed=10, origin=T0).frame(minutes[0], minutes[-1])
    pd.testing.assert_frame_equal(whole, pd.concat(pieces, ignore_index=True), check_exact=True)


def test_an_earlier_window_is_replayed_from_checkpoints_identically(small):
    generator = FleetGenerator(small, [], seed=3)
    first = generator.frame(T0, T0 + DAY)
    generator.frame(T0 + DAY, T0 + 2 * DAY)
    again = generator.frame(T0 + 10 * HOUR, T0 + 14 * HOUR)
    window = first[(first["timestamp"] >= T0 + 10 * HOUR) & (first["timestamp"] < T0 + 14 * HOUR)]
    pd.testing.assert_frame_equal(again, window.reset_index(drop=True), check_exact=True)


def test_a_trajectory_depends_on_its_origin_not_on_the_first_window_asked(small):
    origin = T0 - DAY
    late = FleetGenerator(small, [], seed=3, origin=origin).frame(T0 + HOUR, T0 + 2 * HOUR)
    early = FleetGenerator(small, [], seed=3, origin=origin)
    early.frame(origin, T0)
    pd.testing.assert_frame_equal(late, early.frame(T0 + HOUR, T0 + 2 * HOUR), check_exact=True)


def test_asking_before_the_origin_is_refused(small):
    generator = FleetGenerator(small, [], seed=3)
    generator.frame(T0, T0 + HOUR)
    assert generator.origin == T0
    with pytest.raises(ValueError, match="origin"):
        generator.frame(T0 - HOUR, T0)


def test_frame_has_the_contract_columns_dtypes_and_order(small):
    frame = FleetGenerator(small, [], seed=1).frame(T0, T0 + 5 * MINUTE)
    assert list(frame.columns) == ["device_id", "timestamp", *SENSOR_NAMES]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(frame[name].dtype == np.float64 for name in SENSOR_NAMES)
    assert (frame["timestamp"].dt.second == 0).all()
    keys = list(zip(frame["timestamp"], frame["device_id"], strict=True))
    assert keys == sorted(keys)
    assert len(frame) <= 5 * len(small.devices)


def test_with_state_adds_ground_truth_and_a_row_for_every_minute(small):
    frame = FleetGenerator(small, [], seed=1).frame(T0, T0 + 30 * MINUTE, with_state=True)
    assert list(frame.columns)[-5:] == ["box_air", "product", "compressor_on", "powered", "sent"]
    assert len(frame) == 30 * len(small.devices)
    plain = FleetGenerator(small, [], seed=1).frame(T0, T0 + 30 * MINUTE)
    sent = frame[frame["sent"]].reset_index(drop=True)[plain.columns]
    pd.testing.assert_frame_equal(sent, plain, check_exact=True)


def test_empty_window_gives_an_empty_frame_with_the_columns(small):
    frame = FleetGenerator(small, [], seed=1).frame(T0, T0)
    assert frame.empty
    assert list(frame.columns) == ["device_id", "timestamp", *SENSOR_NAMES]


def test_unaligned_or_naive_datetimes_are_rejected(small):
    generator = FleetGenerator(small, [], seed=1)
    with pytest.raises(ValueError):
        generator.frame(T0 + timedelta(seconds=30), T0 + DAY)
    with pytest.raises(ValueError):
        generator.frame(T0.replace(tzinfo=None), T0 + DAY)


def test_faults_and_events_for_unknown_devices_are_rejected(small):
    ghost = FaultSpec("REF-US-W-99999999", FaultType.FULL_DROPOUT, T0, T0 + DAY)
    with pytest.raises(ValueError, match="not in the fleet"):
        FleetGenerator(small, [ghost], seed=1)
