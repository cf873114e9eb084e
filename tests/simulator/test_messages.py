"""What the link carries: random nulls, gaps, lacking sensors, and the raw message format."""

import json
import re
from datetime import timedelta

import pytest

from fleetmon.sensors import SENSOR_BY_NAME, SENSOR_NAMES
from fleetmon.simulator.generator import FleetGenerator, to_messages
from tests.simulator.helpers import HOUR, SEED, T0

VIBRATION = "vibration_compressor"


def test_random_nulls_come_at_the_requested_rate(fleet):
    frame = FleetGenerator(fleet, [], seed=3, null_rate=0.02, events=()).frame(T0, T0 + 6 * HOUR)
    carried = [name for name in SENSOR_NAMES if all(d.has(name) for d in fleet.devices)]
    assert frame[carried].isna().to_numpy().mean() == pytest.approx(0.02, abs=0.003)


def test_short_link_gaps_drop_a_few_messages(fleet, healthy_raw):
    unsent = ~healthy_raw["sent"]
    assert 0.0 < unsent.mean() < 0.01
    assert healthy_raw["powered"].all()


def test_sensors_a_device_lacks_are_nan_for_life(fleet, healthy_raw):
    for device in fleet.devices:
        rows = healthy_raw[(healthy_raw["device_id"] == device.device_id) & healthy_raw["sent"]]
        for name in SENSOR_NAMES:
            if device.has(name):
                assert rows[name].notna().mean() > 0.99, (device.device_id, name)
            else:
                assert rows[name].isna().all(), (device.device_id, name)
    assert any(not d.has(VIBRATION) for d in fleet.devices)


def test_messages_follow_the_raw_format(fleet):
    generator = FleetGenerator(fleet, [], seed=SEED, null_rate=0.3)
    frame = generator.frame(T0, T0 + timedelta(minutes=2))
    messages = to_messages(frame, fleet)
    assert len(messages) == len(frame)
    json.dumps(messages)
    by_id = {d.device_id: d for d in fleet.devices}
    for message in messages:
        assert set(message) == {"device_id", "timestamp", "readings"}
        assert re.fullmatch(r"2026-03-02T00:0[01]:00Z", message["timestamp"])
        assert set(message["readings"]) == set(by_id[message["device_id"]].sensors)
        for name, value in message["readings"].items():
            kind = bool if SENSOR_BY_NAME[name].kind == "boolean" else float
            assert value is None or type(value) is kind
    assert any(v is None for m in messages for v in m["readings"].values())
