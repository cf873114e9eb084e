"""Read NDJSON and CSV files of raw device messages, for the contract code to check.

The loaders only turn lines into messages (domain §1 format); judging them is the job of
`quality.checks.readings`, exactly as for the HTTP API. A line that is not even a message
(broken JSON) is returned as a string, which the contract rejects as "expected an object".

Timestamps follow the contract (ISO-8601 with a UTC offset): one without an offset is a row
error, as on the API, because it could be any zone's time. Exports from spreadsheets and
historians often carry none; `assume_utc` (load_readings --assume-utc) reads those as UTC,
a choice the person loading the file makes for the whole file, knowing where it came from.
"""

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import orjson

from fleetmon.sensors import BOOLEAN_SENSORS, NUMERIC_SENSORS, SENSOR_NAMES

CSV_FIELDS = ("device_id", "timestamp", "event_id")
TRUE, FALSE = {"true", "1", "t", "yes"}, {"false", "0", "f", "no"}


class FileFormatError(ValueError):
    """The file as a whole cannot be read (unknown CSV column, missing header)."""


def read_messages(
    path: Path, fmt: str, *, assume_utc: bool = False
) -> Iterator[tuple[int, object]]:
    """Yield (line number, message) from an NDJSON or CSV file."""
    if fmt == "ndjson":
        lines = _ndjson(path)
    elif fmt == "csv":
        lines = _csv(path)
    else:
        raise FileFormatError(f"unknown format {fmt!r}: use ndjson or csv")
    for number, message in lines:
        yield number, (_utc_if_naive(message) if assume_utc else message)


def _utc_if_naive(message: object) -> object:
    """Give a timestamp without an offset the UTC one; leave anything else to the contract."""
    if not isinstance(message, dict) or not isinstance(message.get("timestamp"), str):
        return message
    try:
        stamp = datetime.fromisoformat(message["timestamp"])
    except ValueError:
        return message
    if stamp.tzinfo is None:
        return {**message, "timestamp": stamp.replace(tzinfo=UTC).isoformat()}
    return message


def batches(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk


def _ndjson(path: Path) -> Iterator[tuple[int, object]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError:
                yield number, line.decode(errors="replace").strip()


def _csv(path: Path) -> Iterator[tuple[int, object]]:
    # Bytes that are not UTF-8 become lone surrogates, which the contract rejects in the row
    # that holds them (quality.checks.readings.storable), as the API does; the rest loads.
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in CSV_FIELDS and c not in SENSOR_NAMES]
        if unknown:
            raise FileFormatError(f"{path}: unknown column {unknown[0]!r} in the CSV header")
        if "device_id" not in header or "timestamp" not in header:
            raise FileFormatError(f"{path}: the CSV header needs device_id and timestamp")
        for row in reader:
            yield reader.line_num, _csv_message(row)


def _csv_message(row: dict[str, str]) -> dict:
    message: dict = {"device_id": row["device_id"], "timestamp": row["timestamp"]}
    if row.get("event_id"):
        message["event_id"] = row["event_id"]
    readings: dict = {}
    for name in NUMERIC_SENSORS:
        cell = (row.get(name) or "").strip()
        if cell:
            # A cell that is not a number stays a string: the contract rejects it by name.
            try:
                readings[name] = float(cell)
            except ValueError:
                readings[name] = cell
    for name in BOOLEAN_SENSORS:
        cell = (row.get(name) or "").strip().lower()
        if cell:
            readings[name] = True if cell in TRUE else False if cell in FALSE else cell
    message["readings"] = readings
    return message
