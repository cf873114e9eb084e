"""Contract C1 -> C2 as pure functions: every flag, every route, every row error."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fleetmon.sensors import SENSOR_NAMES
from quality.checks.readings import (
    Flag,
    Limits,
    Route,
    check_batch,
    flag_names,
    parse_messages,
    refuse_future,
)
from tests.conftest import NORMAL_READINGS, message

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEV = "REF-US-W-00000001"
ALL_BITS = (1 << len(SENSOR_NAMES)) - 1


def run(messages, *, registry=None, stored=None, limits=None):
    batch, errors = parse_messages(messages)
    assert not errors, errors
    registry = {DEV: ALL_BITS} if registry is None else registry
    already = np.zeros(len(batch), dtype=bool) if stored is None else np.array(stored)
    return check_batch(
        batch,
        ingested_at=NOW,
        registry=registry,
        already_stored=already,
        limits=limits or Limits(),
    )


def flags_of(checked, row=0):
    return flag_names(int(checked.flags[row]))


def test_clean_reading_passes_without_flags():
    checked = run([message(DEV, NOW)])
    assert checked.route.tolist() == [Route.CLEAN]
    assert flags_of(checked) == []
    assert checked.null_count.tolist() == [0]


@pytest.mark.parametrize(
    ("sensor", "value"),
    [
        ("temperature_evaporator", -60.5),
        ("temperature_evaporator", 30.1),
        ("temperature_condenser", 19.9),
        ("pressure_low_side", 49.0),
        ("pressure_high_side", 3500.5),
        ("current_compressor", -0.1),
        ("vibration_compressor", 100.01),
        ("humidity", 101.0),
        ("superheat", -5.5),
        ("subcooling", 30.5),
    ],
)
def test_out_of_range_value_becomes_null_and_is_flagged(sensor, value):
    checked = run([message(DEV, NOW, values={sensor: value})])
    j = SENSOR_NAMES.index(sensor)
    assert np.isnan(checked.values[0, j])
    assert flags_of(checked) == ["RANGE_VIOLATION"]
    assert checked.null_count.tolist() == [1]
    assert checked.route.tolist() == [Route.CLEAN]


@pytest.mark.parametrize(
    ("sensor", "value"),
    [("temperature_evaporator", -60.0), ("temperature_evaporator", 30.0), ("humidity", 100.0)],
)
def test_values_on_the_range_bounds_are_valid(sensor, value):
    checked = run([message(DEV, NOW, values={sensor: value})])
    assert checked.values[0, SENSOR_NAMES.index(sensor)] == value
    assert flags_of(checked) == []


def test_humidity_range_can_be_widened_for_summer():
    summer = Limits().with_range("humidity", 0, 105)
    checked = run([message(DEV, NOW, values={"humidity": 103.0})], limits=summer)
    assert flags_of(checked) == []


def test_negative_superheat_is_kept_and_flagged():
    checked = run([message(DEV, NOW, values={"superheat": -2.0})])
    assert checked.values[0, SENSOR_NAMES.index("superheat")] == -2.0
    assert flags_of(checked) == ["NEGATIVE_SUPERHEAT"]


@pytest.mark.parametrize("offset", [timedelta(hours=24, minutes=1), -timedelta(days=3650)])
def test_drifted_clock_uses_ingestion_time(offset):
    checked = run([message(DEV, NOW + offset)])
    assert flags_of(checked) == ["CLOCK_DRIFT"]
    assert checked.timestamp_utc[0] == np.datetime64(NOW.replace(tzinfo=None), "us")


def test_clock_within_a_day_keeps_device_time():
    when = NOW - timedelta(hours=23, minutes=59)
    checked = run([message(DEV, when)])
    assert flags_of(checked) == []
    assert checked.timestamp_utc[0] == np.datetime64(when.replace(tzinfo=None), "us")


def test_far_future_and_far_past_timestamps_are_accepted_as_drift():
    far = [
        message(DEV, datetime(9999, 12, 31, tzinfo=UTC)),
        message(DEV, datetime(1970, 1, 1, tzinfo=UTC)),
    ]
    checked = run(far)
    assert [flags_of(checked, i) for i in range(2)] == [["CLOCK_DRIFT"], ["CLOCK_DRIFT"]]


def test_a_backfill_trusts_device_clocks_however_old():
    when = NOW - timedelta(days=400)
    checked = run([message(DEV, when)], limits=Limits(clock_drift=None))
    assert flags_of(checked) == []
    assert checked.timestamp_utc[0] == np.datetime64(when.replace(tzinfo=None), "us")


def test_future_rows_are_split_off_with_a_reason_naming_the_load_time():
    batch, _ = parse_messages(
        [
            message(DEV, NOW - timedelta(days=30)),
            message(DEV, NOW + timedelta(minutes=5)),  # within the tolerance
            message(DEV, NOW + timedelta(minutes=5, seconds=1)),
            message(DEV, datetime(9999, 12, 31, tzinfo=UTC)),
        ]
    )
    kept, errors = refuse_future(batch, ingested_at=NOW, tolerance=timedelta(minutes=5))

    assert kept.index.tolist() == [0, 1]
    assert [(e.index, e.field) for e in errors] == [(2, "timestamp"), (3, "timestamp")]
    assert errors[0].reason == (
        "in the future: 2026-11-26T12:05:01Z is more than 5 min after the load time "
        "2026-11-26T12:00:00Z"
    )


def test_timestamp_offset_is_converted_to_utc():
    batch, _ = parse_messages([{**message(DEV, NOW), "timestamp": "2026-11-26T14:00:00+02:00"}])
    assert batch.timestamp_device[0] == np.datetime64("2026-11-26T12:00:00", "us")


def test_unknown_device_goes_to_quarantine_flagged():
    checked = run([message("REF-US-W-99999999", NOW)])
    assert checked.route.tolist() == [Route.QUARANTINE]
    assert flags_of(checked) == ["DEVICE_UNKNOWN"]


def test_all_null_reading_goes_to_dead_letter():
    checked = run([message(DEV, NOW, readings={name: None for name in SENSOR_NAMES})])
    assert checked.route.tolist() == [Route.DEAD_LETTER]


def test_reading_with_every_value_out_of_range_is_dead_lettered():
    readings = {"temperature_evaporator": 99.0, "humidity": -3.0}
    checked = run([message(DEV, NOW, readings=readings)], registry={DEV: 0})
    assert checked.route.tolist() == [Route.DEAD_LETTER]
    assert flags_of(checked) == ["RANGE_VIOLATION"]


def test_empty_readings_object_is_dead_lettered():
    checked = run([message(DEV, NOW, readings={})], registry={DEV: 0})
    assert checked.route.tolist() == [Route.DEAD_LETTER]


def test_sensor_the_device_used_to_report_arriving_null_is_a_gap():
    readings = {**NORMAL_READINGS, "vibration_compressor": None}
    checked = run([message(DEV, NOW, readings=readings)])
    assert flags_of(checked) == ["SENSOR_GAP"]


def test_sensor_the_device_never_had_is_not_a_gap():
    readings = {k: v for k, v in NORMAL_READINGS.items() if k != "vibration_compressor"}
    without_vibration = ALL_BITS & ~(1 << SENSOR_NAMES.index("vibration_compressor"))
    checked = run([message(DEV, NOW, readings=readings)], registry={DEV: without_vibration})
    assert flags_of(checked) == []


def test_gap_is_seen_against_earlier_rows_of_the_same_batch():
    gone = {**NORMAL_READINGS, "humidity": None}
    batch = [message(DEV, NOW - timedelta(minutes=1)), message(DEV, NOW, readings=gone)]
    checked = run(batch, registry={DEV: 0})
    assert [flags_of(checked, 0), flags_of(checked, 1)] == [[], ["SENSOR_GAP"]]


def test_gap_is_judged_in_time_order_not_batch_order():
    gone = {**NORMAL_READINGS, "humidity": None}
    batch = [message(DEV, NOW, readings=gone), message(DEV, NOW - timedelta(minutes=1))]
    checked = run(batch, registry={DEV: 0})
    assert [flags_of(checked, 0), flags_of(checked, 1)] == [["SENSOR_GAP"], []]


def test_duplicate_event_id_keeps_first_copy_flagged():
    event_id = "0b7e1c52-4a55-4c5e-9a2f-1d3f5e7a9b11"
    first = message(DEV, NOW, event_id=event_id)
    second = message(DEV, NOW + timedelta(minutes=1), event_id=event_id)
    checked = run([first, second])
    assert checked.route.tolist() == [Route.CLEAN, Route.DUPLICATE]
    assert flags_of(checked) == ["DUPLICATE_REMOVED"]


def test_same_device_and_timestamp_with_new_event_id_is_a_duplicate():
    a = message(DEV, NOW, event_id="0b7e1c52-4a55-4c5e-9a2f-1d3f5e7a9b11")
    b = message(DEV, NOW, event_id="7c0e2b7d-0e61-4f1e-8d8c-3a1b2c3d4e5f")
    checked = run([a, b])
    assert checked.route.tolist() == [Route.CLEAN, Route.DUPLICATE]


def test_rows_already_stored_are_duplicates_and_not_flagged_as_survivors():
    checked = run([message(DEV, NOW), message(DEV, NOW)], stored=[True, False])
    assert checked.route.tolist() == [Route.DUPLICATE, Route.DUPLICATE]
    assert checked.flags.tolist() == [0, 0]


def test_flags_combine():
    checked = run(
        [message(DEV, NOW + timedelta(days=2), values={"humidity": 140.0, "superheat": -1.0})]
    )
    assert flags_of(checked) == ["RANGE_VIOLATION", "CLOCK_DRIFT", "NEGATIVE_SUPERHEAT"]


def test_missing_event_id_is_derived_deterministically():
    a, _ = parse_messages([message(DEV, NOW)])
    b, _ = parse_messages([message(DEV, NOW)])
    c, _ = parse_messages([message(DEV, NOW + timedelta(minutes=1))])
    assert a.event_id[0] == b.event_id[0] != c.event_id[0]


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ("not an object", "", "expected an object"),
        ({"timestamp": "2026-11-26T12:00:00Z", "readings": {}}, "device_id", "required"),
        (
            {"device_id": 42, "timestamp": "2026-11-26T12:00:00Z", "readings": {}},
            "device_id",
            "string",
        ),
        (
            {"device_id": "X" * 65, "timestamp": "2026-11-26T12:00:00Z", "readings": {}},
            "device_id",
            "longer",
        ),
        ({"device_id": DEV, "readings": {}}, "timestamp", "ISO-8601"),
        ({"device_id": DEV, "timestamp": 1764158400, "readings": {}}, "timestamp", "ISO-8601"),
        ({"device_id": DEV, "timestamp": "yesterday", "readings": {}}, "timestamp", "ISO-8601"),
        ({"device_id": DEV, "timestamp": "2026-11-26", "readings": {}}, "timestamp", "ISO-8601"),
        ({"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z"}, "readings", "object"),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": [1]},
            "readings",
            "object",
        ),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": {"temp": 1.0}},
            "readings.temp",
            "unknown sensor",
        ),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": {"humidity": "45"}},
            "readings.humidity",
            "expected a number",
        ),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": {"humidity": True}},
            "readings.humidity",
            "expected a number",
        ),
        (
            {
                "device_id": DEV,
                "timestamp": "2026-11-26T12:00:00Z",
                "readings": {"door_open_close": 1},
            },
            "readings.door_open_close",
            "expected true, false or null",
        ),
        (
            {
                "device_id": DEV,
                "timestamp": "2026-11-26T12:00:00Z",
                "readings": {},
                "event_id": "x",
            },
            "event_id",
            "UUID",
        ),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": {}, "extra": 1},
            "extra",
            "unknown field",
        ),
        (
            {"device_id": "REF-\x00-1", "timestamp": "2026-11-26T12:00:00Z", "readings": {}},
            "device_id",
            "NUL",
        ),
        (
            {"device_id": "REF-\ud800", "timestamp": "2026-11-26T12:00:00Z", "readings": {}},
            "device_id",
            "invalid Unicode",
        ),
        (
            {"device_id": DEV, "timestamp": "2026-11-26T12:00:00", "readings": {}},
            "timestamp",
            "no UTC offset: the contract is ISO-8601 UTC",
        ),
    ],
)
def test_row_errors_name_index_field_and_reason(bad, field, reason):
    batch, errors = parse_messages([message(DEV, NOW), bad])
    assert len(batch) == 1 and batch.index.tolist() == [0]
    assert [(e.index, e.field) for e in errors] == [(1, field)]
    assert reason in errors[0].reason


def test_all_errors_of_a_row_are_reported():
    bad = {"device_id": DEV, "timestamp": "x", "readings": {"humidity": "wet", "foo": 1}}
    _, errors = parse_messages([bad])
    assert sorted(e.field for e in errors) == ["readings.foo", "readings.humidity", "timestamp"]


def test_flag_enum_matches_contract_values():
    assert {f.value for f in Flag} >= {
        "RANGE_VIOLATION",
        "CLOCK_DRIFT",
        "DUPLICATE_REMOVED",
        "SENSOR_GAP",
        "DEVICE_UNKNOWN",
    }


def test_an_unstorable_key_is_named_escaped_in_its_error():
    bad = {"device_id": DEV, "timestamp": "2026-11-26T12:00:00Z", "readings": {"a\x00b": 1}}
    _, errors = parse_messages([bad])
    assert [(e.field, e.reason) for e in errors] == [("readings.a\\x00b", "unknown sensor")]
