"""manage.py load_readings: NDJSON and CSV through the same contract as the API."""

import subprocess
import sys
from datetime import timedelta

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fleetmon.readings.models import (
    CleanSensorReading,
    RawSensorReading,
    StreamOutbox,
    StreamProgress,
)
from quality.models import QuarantineSensorReading
from tests.conftest import message

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


def test_ndjson_file_is_loaded_with_bad_lines_reported(tmp_path, devices, now, capsys):
    lines = [
        orjson.dumps(message(devices[0].device_id, now - timedelta(minutes=i))) for i in range(3)
    ]
    lines.insert(1, b'{"device_id": broken')
    lines.append(orjson.dumps(message("REF-US-W-77777777", now)))
    path = tmp_path / "readings.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    with pytest.raises(SystemExit) as exit_info:
        call_command("load_readings", str(path))

    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "accepted=3 flagged=0 quarantined=1" in out
    assert f"{path}:2 row: expected an object" in err
    assert CleanSensorReading.objects.count() == 3
    assert QuarantineSensorReading.objects.count() == 1


def test_csv_file_is_loaded_with_types_checked(tmp_path, devices, now, capsys):
    dev = devices[0].device_id
    path = tmp_path / "readings.csv"
    path.write_text(
        "device_id,timestamp,temperature_evaporator,humidity,door_open_close\n"
        f"{dev},{now.isoformat()},-20.1,45,false\n"
        f"{dev},{(now - timedelta(minutes=1)).isoformat()},-20.3,wet,true\n"
        f"{dev},{(now - timedelta(minutes=2)).isoformat()},-20.2,,maybe\n"
    )
    with pytest.raises(SystemExit):
        call_command("load_readings", str(path), "--batch-size", "2")
    _, err = capsys.readouterr()
    assert f"{path}:3 readings.humidity: expected a number or null" in err
    assert f"{path}:4 readings.door_open_close: expected true, false or null" in err
    row = CleanSensorReading.objects.get()
    assert (row.temperature_evaporator, row.humidity, row.door_open_close) == (-20.1, 45.0, False)


def test_csv_times_without_an_offset_are_refused_unless_declared_utc(
    tmp_path, devices, now, capsys
):
    dev = devices[0].device_id
    naive = now.replace(tzinfo=None)
    path = tmp_path / "export.csv"
    path.write_text(
        "device_id,timestamp,humidity\n"
        f"{dev},{naive.isoformat()},45\n"
        f"{dev},{(naive - timedelta(minutes=1)).isoformat(sep=' ')},46\n"
        f"{dev},{(now - timedelta(minutes=2)).isoformat()},47\n"
    )
    with pytest.raises(SystemExit):
        call_command("load_readings", str(path))
    _, err = capsys.readouterr()
    assert f"{path}:2 timestamp: no UTC offset: the contract is ISO-8601 UTC" in err
    assert "2 rows have a timestamp without a UTC offset" in err
    assert "--assume-utc" in err
    assert CleanSensorReading.objects.count() == 1

    call_command("load_readings", "--assume-utc", str(path))
    assert "accepted=2 flagged=0 quarantined=0 dead_lettered=0 duplicates=1" in (
        capsys.readouterr().out
    )
    stamps = set(CleanSensorReading.objects.values_list("timestamp_utc", flat=True))
    assert stamps == {now, now - timedelta(minutes=1), now - timedelta(minutes=2)}


def test_loading_the_same_file_twice_adds_nothing(tmp_path, devices, now, capsys):
    path = tmp_path / "a.ndjson"
    path.write_bytes(orjson.dumps(message(devices[0].device_id, now)) + b"\n")
    call_command("load_readings", str(path))
    call_command("load_readings", str(path))
    assert "duplicates=1" in capsys.readouterr().out.splitlines()[-1]
    assert CleanSensorReading.objects.count() == 1


def test_unknown_csv_column_fails_the_file_with_one_line(tmp_path, db):
    path = tmp_path / "bad.csv"
    path.write_text("device_id,timestamp,temp_evap\nREF-1,2026-11-26T00:00:00Z,1\n")
    with pytest.raises(CommandError, match="unknown column 'temp_evap'"):
        call_command("load_readings", str(path))


def test_missing_file_exits_non_zero_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "load_readings", str(tmp_path / "nope.ndjson")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"CommandError: {tmp_path / 'nope.ndjson'}: no such file"
    )


# ---------------------------------------------------------------- --backfill


def history_file(tmp_path, device_id, now, *, days=(30, 10, 2), extra=()):
    """An NDJSON file of readings recorded `days` ago (beyond the 7-day dedup horizon too)."""
    lines = [orjson.dumps(message(device_id, now - timedelta(days=d))) for d in days]
    lines += [orjson.dumps(m) for m in extra]
    path = tmp_path / "history.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_backfill_keeps_old_timestamps_and_stays_off_the_stream(
    tmp_path, devices, now, capsys, django_capture_on_commit_callbacks
):
    path = history_file(tmp_path, devices[0].device_id, now)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_readings", "--backfill", str(path))

    rows = CleanSensorReading.objects.order_by("timestamp_utc")
    assert [r.timestamp_utc for r in rows] == [now - timedelta(days=d) for d in (30, 10, 2)]
    assert [r.quality_flags for r in rows] == [[], [], []]
    assert "accepted=3 flagged=0" in capsys.readouterr().out
    assert not StreamOutbox.objects.exists()
    # History is not news: the rules count it as evaluated and never alert on it.
    progress = StreamProgress.objects.get(device_id=devices[0].device_id)
    assert progress.evaluated_through == now - timedelta(days=2)


def test_a_replayed_backfill_stores_nothing_new(tmp_path, devices, now, capsys):
    path = history_file(tmp_path, devices[0].device_id, now)
    call_command("load_readings", "--backfill", str(path))
    call_command("load_readings", "--backfill", str(path))

    assert (
        "accepted=0 flagged=0 quarantined=0 dead_lettered=0 duplicates=3"
        in (capsys.readouterr().out.splitlines()[-1])
    )
    assert CleanSensorReading.objects.count() == 3
    assert RawSensorReading.objects.count() == 3


def test_a_backfill_finds_readings_a_plain_load_stored_at_its_load_time(
    tmp_path, devices, now, capsys
):
    path = history_file(tmp_path, devices[0].device_id, now)
    call_command("load_readings", str(path))  # CLOCK_DRIFT copies, stored at the load time
    call_command("load_readings", "--backfill", str(path))

    assert (
        "accepted=0 flagged=0 quarantined=0 dead_lettered=0 duplicates=3"
        in (capsys.readouterr().out.splitlines()[-1])
    )
    assert CleanSensorReading.objects.count() == 3


def test_backfill_refuses_a_future_timestamp_and_keeps_the_valid_rows(
    tmp_path, devices, now, capsys
):
    dev = devices[0].device_id
    future = message(dev, now + timedelta(days=1))
    path = history_file(tmp_path, dev, now, extra=[future])

    with pytest.raises(SystemExit) as exit_info:
        call_command("load_readings", "--backfill", str(path))

    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert f"{path}:4 timestamp: in the future: " in err
    assert "is more than 5 min after the load time" in err
    assert err.strip().splitlines()[-1] == "1 rows rejected; valid rows were stored"
    assert "accepted=3" in out
    assert CleanSensorReading.objects.count() == 3


def test_without_backfill_old_and_future_readings_are_stored_at_load_time_as_drift(
    tmp_path, devices, now, capsys
):
    dev = devices[0].device_id
    path = history_file(
        tmp_path, dev, now, days=(30,), extra=[message(dev, now + timedelta(days=2))]
    )

    call_command("load_readings", str(path))

    rows = list(CleanSensorReading.objects.all())
    assert [r.quality_flags for r in rows] == [["CLOCK_DRIFT"], ["CLOCK_DRIFT"]]
    assert all(abs(r.timestamp_utc - timezone.now()) < timedelta(minutes=5) for r in rows)
    assert "accepted=2 flagged=2" in capsys.readouterr().out


def test_a_missing_file_fails_before_anything_is_loaded(tmp_path, devices, now):
    path = history_file(tmp_path, devices[0].device_id, now)
    with pytest.raises(CommandError, match="nope.ndjson: no such file"):
        call_command("load_readings", "--backfill", str(path), str(tmp_path / "nope.ndjson"))
    assert CleanSensorReading.objects.count() == 0


def test_unstorable_text_in_a_file_is_that_rows_error_and_the_rest_is_stored(
    tmp_path, devices, now, capsys
):
    """A NUL (escaped in NDJSON, raw in CSV) or bytes that are not UTF-8 lose one row only."""
    dev = devices[0].device_id
    ndjson = tmp_path / "a.ndjson"
    ndjson.write_bytes(
        b"\n".join(
            [
                orjson.dumps(message(dev, now)),
                orjson.dumps(message(f"{dev}\x00", now)),  # "\u0000" in the JSON
                orjson.dumps(message(dev, now)).replace(dev.encode(), b"REF-\xe9"),  # Latin-1
                orjson.dumps(message(dev, now - timedelta(minutes=1))),
            ]
        )
        + b"\n"
    )
    csv_path = tmp_path / "b.csv"
    csv_path.write_bytes(
        b"device_id,timestamp,humidity\n"
        + f"{dev},{(now - timedelta(minutes=2)).isoformat()},45\n".encode()
        + f"REF-\x00-1,{now.isoformat()},45\n".encode()
        + f"{dev},{(now - timedelta(minutes=3)).isoformat()},4\xe95\n".encode("latin-1")
        + f"REF-\xe9,{now.isoformat()},45\n".encode("latin-1")
        + f"{dev},{(now - timedelta(minutes=4)).isoformat()},46\n".encode()
    )

    with pytest.raises(SystemExit) as exit_info:
        call_command("load_readings", str(ndjson), str(csv_path))

    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "accepted=4 " in out and " rejected=5" in out
    assert f"{ndjson}:2 device_id: contains a NUL character" in err
    assert f"{ndjson}:3 row: expected an object" in err
    assert f"{csv_path}:3 device_id: contains a NUL character" in err
    assert f"{csv_path}:4 readings.humidity: expected a number or null" in err
    assert f"{csv_path}:5 device_id: contains a NUL character or invalid Unicode" in err
    assert "5 rows rejected; valid rows were stored" in err
    assert CleanSensorReading.objects.count() == 4
