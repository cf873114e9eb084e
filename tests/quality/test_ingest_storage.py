"""Ingest against the real database: routing into tables, replay, atomicity, hypertables."""

from datetime import timedelta

import pytest
from django.db import connection

from fleetmon.readings.models import CleanSensorReading, RawSensorReading
from fleetmon.registry.models import Device
from fleetmon.sensors import SENSOR_NAMES
from fleetmon.timescale import is_hypertable, timescaledb_available
from quality.ingest import ingest_messages
from quality.models import DeadLetterSensorReading, QuarantineSensorReading
from tests.conftest import NORMAL_READINGS, message

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


def table_counts() -> dict[str, int]:
    return {
        "raw": RawSensorReading.objects.count(),
        "clean": CleanSensorReading.objects.count(),
        "quarantine": QuarantineSensorReading.objects.count(),
        "dead_letter": DeadLetterSensorReading.objects.count(),
    }


def mixed_batch(devices, now):
    dev = devices[0].device_id
    return [
        message(dev, now - timedelta(minutes=2)),
        message(dev, now - timedelta(minutes=1), values={"humidity": 180.0}),
        message("REF-US-W-99999999", now),
        message(devices[1].device_id, now, readings={n: None for n in SENSOR_NAMES}),
        message(dev, now - timedelta(minutes=2)),  # repeated in the batch
        {"device_id": dev, "timestamp": "not a time", "readings": {}},
    ]


def test_each_row_lands_where_the_contract_routes_it(devices, now):
    result = ingest_messages(messages=mixed_batch(devices, now), received_at=now)

    assert result.as_dict() | {"errors": None} == {
        "accepted": 2,
        "flagged": 2,  # DUPLICATE_REMOVED survivor and RANGE_VIOLATION
        "quarantined": 1,
        "dead_lettered": 1,
        "duplicates": 1,
        "rejected": 1,
        "errors": None,
    }
    assert [(e.index, e.field) for e in result.errors] == [(5, "timestamp")]
    assert table_counts() == {"raw": 4, "clean": 2, "quarantine": 1, "dead_letter": 1}

    flagged = CleanSensorReading.objects.get(timestamp_utc=now - timedelta(minutes=1))
    assert flagged.humidity is None
    assert flagged.quality_flags == ["RANGE_VIOLATION"]
    assert flagged.sensor_null_count == 1
    raw = RawSensorReading.objects.get(timestamp_utc=now - timedelta(minutes=1))
    assert raw.humidity == 180.0  # the landing zone keeps the value as received
    survivor = CleanSensorReading.objects.get(timestamp_utc=now - timedelta(minutes=2))
    assert survivor.quality_flags == ["DUPLICATE_REMOVED"]
    held = QuarantineSensorReading.objects.get()
    assert (held.reason, held.quality_flags) == ("DEVICE_UNKNOWN", ["DEVICE_UNKNOWN"])
    assert DeadLetterSensorReading.objects.get().reason == "ALL_SENSORS_NULL"


def test_replaying_a_batch_changes_nothing(devices, now):
    batch = mixed_batch(devices, now)
    ingest_messages(messages=batch, received_at=now)
    before = table_counts()
    snapshot = list(CleanSensorReading.objects.values().order_by("timestamp_utc"))

    again = ingest_messages(messages=batch, received_at=now + timedelta(minutes=3))

    assert (again.accepted, again.quarantined, again.dead_lettered) == (0, 0, 0)
    assert again.duplicates == 5 and again.rejected == 1
    assert table_counts() == before
    assert list(CleanSensorReading.objects.values().order_by("timestamp_utc")) == snapshot


def test_replay_of_a_clock_drifted_message_is_recognised(devices, now):
    drifted = [message(devices[0].device_id, now - timedelta(days=400))]
    first = ingest_messages(messages=drifted, received_at=now)
    again = ingest_messages(messages=drifted, received_at=now + timedelta(hours=5))
    assert (first.accepted, again.duplicates) == (1, 1)
    row = CleanSensorReading.objects.get()
    assert (row.timestamp_utc, row.quality_flags) == (now, ["CLOCK_DRIFT"])


def test_same_reading_under_a_new_event_id_is_a_duplicate_across_batches(devices, now):
    dev = devices[0].device_id
    ingest_messages(messages=[message(dev, now, event_id="0b7e1c52-4a55-4c5e-9a2f-1d3f5e7a9b11")])
    again = ingest_messages(
        messages=[message(dev, now, event_id="7c0e2b7d-0e61-4f1e-8d8c-3a1b2c3d4e5f")]
    )
    assert again.duplicates == 1 and CleanSensorReading.objects.count() == 1


def test_sensor_gap_uses_the_device_history_kept_in_the_registry(devices, now):
    dev = devices[0].device_id
    ingest_messages(messages=[message(dev, now - timedelta(minutes=1))])
    assert Device.objects.get(pk=dev).reporting_sensors == (1 << len(SENSOR_NAMES)) - 1

    gone = {k: v for k, v in NORMAL_READINGS.items() if k != "vibration_compressor"}
    ingest_messages(messages=[message(dev, now, readings=gone)])

    assert CleanSensorReading.objects.get(timestamp_utc=now).quality_flags == ["SENSOR_GAP"]


@pytest.mark.django_db(transaction=True)
def test_a_failure_mid_batch_leaves_nothing_written(devices, now):
    """A database error after the raw COPY (here: a trigger refusing clean rows) rolls back all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;"
            "CREATE TRIGGER refuse BEFORE INSERT ON clean_sensor_readings"
            " FOR EACH ROW EXECUTE FUNCTION refuse();"
        )
    try:
        with pytest.raises(Exception, match="disk on fire"):
            ingest_messages(messages=mixed_batch(devices, now))
        assert table_counts() == {"raw": 0, "clean": 0, "quarantine": 0, "dead_letter": 0}
        assert Device.objects.get(pk=devices[0].device_id).reporting_sensors == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse ON clean_sensor_readings; DROP FUNCTION refuse();")
    ok = ingest_messages(messages=mixed_batch(devices, now))
    assert ok.accepted == 2


def test_sequence_numbers_follow_arrival_order(devices, now):
    dev = devices[0].device_id
    ingest_messages(messages=[message(dev, now - timedelta(minutes=m)) for m in range(3)])
    rows = RawSensorReading.objects.order_by("sequence_number")
    assert [r.timestamp_device for r in rows] == [now - timedelta(minutes=m) for m in range(3)]
    assert all(r.partition_key == dev for r in rows)


def test_readings_tables_are_hypertables_when_timescaledb_is_there(db):
    tables = [
        "raw_sensor_readings",
        "clean_sensor_readings",
        "quarantine_sensor_readings",
        "dead_letter_sensor_readings",
    ]
    expected = timescaledb_available(connection)
    assert [is_hypertable(connection, t) for t in tables] == [expected] * 4


@pytest.mark.django_db(transaction=True)
def test_two_gateways_racing_with_the_same_batch_store_it_once(devices, now):
    """The second writer's COPY waits on the first's uncommitted keys, fails, and retries."""
    import threading

    batch = [message(d.device_id, now) for d in devices]
    first_written, results = threading.Event(), {}

    def first():
        from django.db import transaction

        with transaction.atomic():  # hold the rows uncommitted while the second one runs
            results["first"] = ingest_messages(messages=batch)
            first_written.set()
            threading.Event().wait(1.0)
        connection.close()

    def second():
        first_written.wait(10)
        results["second"] = ingest_messages(messages=batch)
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert results["first"].accepted == len(devices)
    assert (results["second"].accepted, results["second"].duplicates) == (0, len(devices))
    assert CleanSensorReading.objects.count() == len(devices)


def test_timescaledb_system_check_matches_the_database(db):
    from fleetmon.checks import check_timescaledb
    from fleetmon.timescale import timescaledb_installed

    messages = check_timescaledb(None, databases=["default"])
    if timescaledb_installed(connection):
        assert messages == []
    else:  # the plain PostgreSQL leg of CI
        assert [m.id for m in messages] == ["fleetmon.W001"]
        assert "lacks the TimescaleDB extension" in messages[0].msg
