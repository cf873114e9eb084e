"""Read NDJSON and CSV files of raw device messages, for the contract code to check.

The loaders only turn lines into messages (domain §1 format); judging them is the job of
`quality.checks.readings`, exactly as for the HTTP API. A line that is not even a message
(broken JSON) is returned as a string, which the contract rejects as "expected an object".
"""

import csv
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import orjson

from fleetmon.sensors import BOOLEAN_SENSORS, NUMERIC_SENSORS, SENSOR_NAMES

CSV_FIELDS = ("device_id", "timestamp", "event_id")
TRUE, FALSE = {"true", "1", "t", "yes"}, {"false", "0", "f", "no"}


class FileFormatError(ValueError):
    """The file as a whole cannot be read (unknown CSV column, missing header)."""


def read_messages(path: Path, fmt: str) -> Iterator[tuple[int, object]]:
    """Yield (line number, message) from an NDJSON or CSV file."""
    if fmt == "ndjson":
        yield from _ndjson(path)
    elif fmt == "csv":
        yield from _csv(path)
    else:
        raise FileFormatError(f"unknown format {fmt!r}: use ndjson or csv")


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
    with path.open(newline="", encoding="utf-8") as handle:
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
