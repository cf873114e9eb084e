"""manage.py load_readings: NDJSON and CSV through the same contract as the API."""

import subprocess
import sys
from datetime import timedelta

import orjson
import pytest
from django.core.management import CommandError, call_command

from fleetmon.readings.models import CleanSensorReading
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
