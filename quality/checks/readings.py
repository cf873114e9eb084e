"""Contract C1 -> C2 as pure functions over a columnar batch (domain §2.2, §3.1, §3.3).

Django-free. The HTTP ingest API, the file loader and the simulator backfill all turn
their input into a `ReadingBatch` and call `check_batch`, so there is one implementation
of the contract. Input is type-checked row by row in `parse_messages` (a row with a wrong
type or an unknown key is rejected with its index, field and reason); everything after
that is vectorised over the batch.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.sensors import IS_BOOLEAN_SENSOR, SENSOR_NAMES, SENSORS

# A message without an event_id gets one derived from what identifies the reading, so a
# replayed message gets the same id and dedup needs no special case.
EVENT_NAMESPACE = uuid.UUID("6f1d7c4e-5b0a-4b8e-9a51-2f3c0d9e7a10")
MESSAGE_KEYS = frozenset({"device_id", "timestamp", "readings", "event_id"})
MAX_DEVICE_ID_LENGTH = 64
UNSTORABLE = "contains a NUL character or invalid Unicode, which cannot be stored"
TIMESTAMP_REQUIRED = "required, an ISO-8601 date-time string"
TIMESTAMP_NAIVE = "no UTC offset: the contract is ISO-8601 UTC (end it with Z or +00:00)"
SENSOR_INDEX = {name: i for i, name in enumerate(SENSOR_NAMES)}
SUPERHEAT = SENSOR_INDEX["superheat"]


class Flag(enum.StrEnum):
    """Values of `quality_flags`. NEGATIVE_SUPERHEAT is ours: §1.1 keeps such values flagged."""

    RANGE_VIOLATION = "RANGE_VIOLATION"
    CLOCK_DRIFT = "CLOCK_DRIFT"
    DUPLICATE_REMOVED = "DUPLICATE_REMOVED"
    SENSOR_GAP = "SENSOR_GAP"
    NEGATIVE_SUPERHEAT = "NEGATIVE_SUPERHEAT"
    DEVICE_UNKNOWN = "DEVICE_UNKNOWN"


FLAG_BIT = {flag: 1 << i for i, flag in enumerate(Flag)}


class Route(enum.IntEnum):
    CLEAN = 0
    QUARANTINE = 1
    DEAD_LETTER = 2
    DUPLICATE = 3


@dataclass(frozen=True)
class RowError:
    index: int
    field: str
    reason: str


@dataclass
class ReadingBatch:
    """Type-checked readings as columns; row i came from input position `index[i]`."""

    index: np.ndarray  # int64
    event_id: np.ndarray  # object: uuid.UUID
    device_id: np.ndarray  # object: str
    timestamp_device: np.ndarray  # datetime64[us], UTC
    values: np.ndarray  # float64 (n, 14) in SENSOR_NAMES order; NaN = null, booleans 0/1

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> ReadingBatch:
        return ReadingBatch(
            self.index[rows],
            self.event_id[rows],
            self.device_id[rows],
            self.timestamp_device[rows],
            self.values[rows],
        )


@dataclass(frozen=True)
class Limits:
    """The knobs of the contract that are settings rather than constants.

    `clock_drift` None trusts every device clock: a backfill of recorded history, whose
    readings are old on purpose, keeps its device timestamps (future ones are refused
    before the contract runs, by `refuse_future`).
    """

    low: np.ndarray = field(default_factory=lambda: _bounds("low"))
    high: np.ndarray = field(default_factory=lambda: _bounds("high"))
    clock_drift: timedelta | None = timedelta(hours=24)

    def with_range(self, sensor: str, low: float, high: float) -> Limits:
        lo, hi = self.low.copy(), self.high.copy()
        lo[SENSOR_INDEX[sensor]], hi[SENSOR_INDEX[sensor]] = low, high
        return Limits(lo, hi, self.clock_drift)


def _bounds(which: str) -> np.ndarray:
    # Booleans get NaN bounds: every comparison with NaN is False, so they never violate.
    return np.array([np.nan if getattr(s, which) is None else getattr(s, which) for s in SENSORS])


@dataclass
class Checked:
    """What the contract decided for each row of a batch."""

    route: np.ndarray  # int8 Route
    flags: np.ndarray  # int64 bitmask of FLAG_BIT
    values: np.ndarray  # range-checked values (out of range -> NaN)
    timestamp_utc: np.ndarray  # datetime64[us]
    null_count: np.ndarray  # int16, nulls after the range check
    reported: np.ndarray  # int64 bitmask of sensors with a value as received

    def count(self, route: Route) -> int:
        return int(np.count_nonzero(self.route == route))


# ---------------------------------------------------------------- parsing


def parse_messages(
    messages: Sequence[object], *, derive_event_ids: bool = True
) -> tuple[ReadingBatch, list[RowError]]:
    """Type-check raw messages (domain §1) into a batch; list every row that fails.

    A row fails when it is not an object, has a key outside MESSAGE_KEYS, lacks or mistypes
    `device_id` or `timestamp`, has a `device_id` PostgreSQL cannot store (a NUL, a lone
    surrogate), a `timestamp` without a UTC offset, a `readings` key that is not a sensor
    name, or a value of the wrong type (numbers for numeric sensors, true/false for door and
    defrost, or null). Failed rows are not in the batch.
    """
    errors: list[RowError] = []
    index: list[int] = []
    event_ids: list[uuid.UUID | None] = []
    devices: list[str] = []
    stamps: list[datetime] = []
    rows: list[list[float]] = []
    nan = float("nan")
    n_sensors = len(SENSOR_NAMES)
    sensor_index = SENSOR_INDEX.get
    is_boolean = IS_BOOLEAN_SENSOR
    for i, message in enumerate(messages):
        row_errors = len(errors)
        if type(message) is not dict:
            errors.append(RowError(i, "", "expected an object"))
            continue
        for key in message.keys() - MESSAGE_KEYS:
            errors.append(RowError(i, printable(key), "unknown field"))
        device_id = message.get("device_id")
        if type(device_id) is not str or not device_id.strip():
            errors.append(RowError(i, "device_id", "required, a non-empty string"))
        elif len(device_id) > MAX_DEVICE_ID_LENGTH:
            errors.append(RowError(i, "device_id", f"longer than {MAX_DEVICE_ID_LENGTH}"))
        elif not storable(device_id):
            errors.append(RowError(i, "device_id", UNSTORABLE))
        stamp, problem = _parse_timestamp(message.get("timestamp"))
        if problem:
            errors.append(RowError(i, "timestamp", problem))
        event_id = _parse_event_id(message.get("event_id"))
        if event_id is False:
            errors.append(RowError(i, "event_id", "expected a UUID string"))
        readings = message.get("readings")
        row = [nan] * n_sensors
        if type(readings) is not dict:
            errors.append(RowError(i, "readings", "required, an object keyed by sensor name"))
        else:
            # The hot loop of the API: inlined, with the lookups bound to locals.
            for key, value in readings.items():
                position = sensor_index(key)
                if position is None:
                    errors.append(RowError(i, f"readings.{printable(key)}", "unknown sensor"))
                elif value is None:
                    continue
                elif is_boolean[position]:
                    if value is True or value is False:
                        row[position] = 1.0 if value else 0.0
                    else:
                        errors.append(
                            RowError(i, f"readings.{key}", "expected true, false or null")
                        )
                elif type(value) is float or type(value) is int:
                    row[position] = value
                else:
                    errors.append(RowError(i, f"readings.{key}", "expected a number or null"))
        if len(errors) > row_errors:
            continue
        index.append(i)
        event_ids.append(event_id or None)
        devices.append(device_id)
        stamps.append(stamp)
        rows.append(row)
    batch = _make_batch(index, event_ids, devices, stamps, rows, derive_event_ids)
    return batch, errors


def storable(text: str) -> bool:
    """Return whether PostgreSQL can store `text` (no NUL, valid Unicode)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
        return False
    return True


def printable(text: str) -> str:
    """`text` safe to echo in an error (JSON, a terminal): unstorable characters escaped."""
    if storable(text):
        return text
    return text.encode(errors="backslashreplace").decode().replace("\x00", "\\x00")


def _parse_timestamp(value: object) -> tuple[datetime | None, str]:
    """Return the UTC time (naive, as the batch holds it), or None and why not."""
    if type(value) is not str or "T" not in value and " " not in value:
        return None, TIMESTAMP_REQUIRED
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None, TIMESTAMP_REQUIRED
    # The contract is ISO-8601 UTC: a time without an offset could be any zone's.
    if stamp.tzinfo is None:
        return None, TIMESTAMP_NAIVE
    return stamp.astimezone(UTC).replace(tzinfo=None), ""


def _parse_event_id(value: object) -> uuid.UUID | None | bool:
    """Return the UUID, None when absent, or False when present but not a UUID."""
    if value is None:
        return None
    if type(value) is not str:
        return False
    try:
        return uuid.UUID(value)
    except ValueError:
        return False


def _make_batch(index, event_ids, devices, stamps, rows, derive_event_ids) -> ReadingBatch:
    device_id = np.array(devices, dtype=object)
    timestamp = np.array(stamps, dtype="datetime64[us]")
    ids = np.array(event_ids, dtype=object)
    if derive_event_ids:
        missing = np.flatnonzero(pd.isna(ids)) if len(ids) else np.array([], dtype=int)
        if len(missing):
            ids[missing] = derive_event_ids_for(device_id[missing], timestamp[missing])
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(SENSOR_NAMES))
    return ReadingBatch(np.array(index, dtype=np.int64), ids, device_id, timestamp, values)


def derive_event_ids_for(device_id: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
    """The event id of a message that came without one: uuid5 of device and timestamp."""
    text = np.datetime_as_string(timestamp, unit="us")
    prefix = EVENT_NAMESPACE.bytes
    # uuid.uuid5 spelled out: the same value, without its per-call overhead.
    return np.array(
        [
            uuid.UUID(bytes=hashlib.sha1(prefix + f"{d}|{t}".encode()).digest()[:16], version=5)
            for d, t in zip(device_id, text, strict=True)
        ],
        dtype=object,
    )


def batch_from_frame(frame: pd.DataFrame) -> ReadingBatch:
    """Build a batch from typed columns (simulator, CSV): device_id, timestamp, sensors."""
    device_id = frame["device_id"].to_numpy(dtype=object)
    stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
    timestamp = stamps.to_numpy(dtype="datetime64[us]")
    if "event_id" in frame:
        ids = frame["event_id"].to_numpy(dtype=object)
    else:
        ids = derive_event_ids_for(device_id, timestamp)
    values = frame.reindex(columns=list(SENSOR_NAMES)).to_numpy(dtype=np.float64)
    return ReadingBatch(np.arange(len(frame), dtype=np.int64), ids, device_id, timestamp, values)


# ---------------------------------------------------------------- the contract


def clock_drifted(batch: ReadingBatch, ingested_at: np.datetime64, limits: Limits) -> np.ndarray:
    """Rows whose device clock is further from the ingestion time than the limit."""
    if limits.clock_drift is None:
        return np.zeros(len(batch), dtype=bool)
    limit = np.timedelta64(int(limits.clock_drift.total_seconds() * 1e6), "us")
    return np.abs(batch.timestamp_device - ingested_at) > limit


def refuse_future(
    batch: ReadingBatch, *, ingested_at: datetime, tolerance: timedelta
) -> tuple[ReadingBatch, list[RowError]]:
    """Split off rows stamped more than `tolerance` after `ingested_at`, each as a row error.

    A backfill trusts device clocks, so a reading from the future cannot be stored at its
    own time (it would sit ahead of every live reading) nor moved to the load time (that is
    what trusting the clock rules out): it is refused and named.
    """
    at = np.datetime64(ingested_at.astimezone(UTC).replace(tzinfo=None), "us")
    limit = at + np.timedelta64(int(tolerance.total_seconds() * 1e6), "us")
    future = batch.timestamp_device > limit
    if not future.any():
        return batch, []
    load_time = np.datetime_as_string(at, unit="s")
    errors = [
        RowError(
            int(index),
            "timestamp",
            f"in the future: {np.datetime_as_string(stamp, unit='s')}Z is more than "
            f"{_minutes(tolerance)} after the load time {load_time}Z",
        )
        for index, stamp in zip(batch.index[future], batch.timestamp_device[future], strict=True)
    ]
    return batch.take(np.flatnonzero(~future)), errors


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} min"


def timestamps_utc(batch: ReadingBatch, ingested_at: np.datetime64, limits: Limits) -> np.ndarray:
    """`timestamp_utc`: the device time, or the ingestion time when the clock drifted."""
    return np.where(clock_drifted(batch, ingested_at, limits), ingested_at, batch.timestamp_device)


def duplicates_in_batch(batch: ReadingBatch) -> tuple[np.ndarray, np.ndarray]:
    """Return (later copies, surviving first copies) by event_id and by device + timestamp.

    The first copy in batch order survives, as the contract keeps the first by sequence.
    """
    by_event = pd.Series(batch.event_id)
    by_reading = pd.DataFrame({"d": batch.device_id, "t": batch.timestamp_device})
    later = by_event.duplicated().to_numpy() | by_reading.duplicated().to_numpy()
    copied = (
        by_event.duplicated(keep=False).to_numpy() | by_reading.duplicated(keep=False).to_numpy()
    )
    return later, copied & ~later


def check_batch(
    batch: ReadingBatch,
    *,
    ingested_at: datetime,
    registry: Mapping[str, int],
    already_stored: np.ndarray,
    limits: Limits,
    in_batch: tuple[np.ndarray, np.ndarray] | None = None,
) -> Checked:
    """Apply contract C1 -> C2 to every row: route it and flag it.

    1. Duplicates: rows already stored, and later copies within the batch, are dropped;
       the surviving copy is flagged DUPLICATE_REMOVED.
    2. Unknown devices (not in `registry`) go to quarantine, flagged DEVICE_UNKNOWN.
    3. Out-of-range values become null, flagged RANGE_VIOLATION; negative superheat is
       kept and flagged NEGATIVE_SUPERHEAT.
    4. A device clock more than `limits.clock_drift` off: ingestion time, CLOCK_DRIFT
       (never when `limits.clock_drift` is None: a backfill trusts device clocks).
    5. A sensor the device has reported (its `registry` mask, grown by earlier rows of the
       batch) arriving null: SENSOR_GAP.
    6. Known devices' rows with every sensor null after step 3 go to the dead letter.

    `in_batch` is `duplicates_in_batch(batch)` when the caller has it already.
    """
    n = len(batch)
    at = np.datetime64(ingested_at.astimezone(UTC).replace(tzinfo=None), "us")
    flags = np.zeros(n, dtype=np.int64)
    later, survivors = in_batch if in_batch is not None else duplicates_in_batch(batch)
    duplicate = later | already_stored
    flags[survivors & ~already_stored] |= FLAG_BIT[Flag.DUPLICATE_REMOVED]

    values = batch.values.copy()
    received = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        out_of_range = received & ((values < limits.low) | (values > limits.high))
        negative_superheat = values[:, SUPERHEAT] < 0
    values[out_of_range] = np.nan
    flags[out_of_range.any(axis=1)] |= FLAG_BIT[Flag.RANGE_VIOLATION]
    flags[negative_superheat & ~out_of_range[:, SUPERHEAT]] |= FLAG_BIT[Flag.NEGATIVE_SUPERHEAT]

    drifted = clock_drifted(batch, at, limits)
    flags[drifted] |= FLAG_BIT[Flag.CLOCK_DRIFT]
    timestamp_utc = np.where(drifted, at, batch.timestamp_device)

    reported = _bitmask(received)
    known = np.fromiter((d in registry for d in batch.device_id), dtype=bool, count=n)
    prior = _prior_reporting(batch, reported, registry, known & ~duplicate)
    gap = known & ~duplicate & ((prior & ~reported) != 0)
    flags[gap] |= FLAG_BIT[Flag.SENSOR_GAP]
    flags[~known] |= FLAG_BIT[Flag.DEVICE_UNKNOWN]

    null_count = np.isnan(values).sum(axis=1).astype(np.int16)
    route = np.full(n, Route.CLEAN, dtype=np.int8)
    route[null_count == len(SENSOR_NAMES)] = Route.DEAD_LETTER
    route[~known] = Route.QUARANTINE
    route[duplicate] = Route.DUPLICATE
    return Checked(route, flags, values, timestamp_utc, null_count, reported)


def _bitmask(present: np.ndarray) -> np.ndarray:
    weights = 1 << np.arange(present.shape[1], dtype=np.int64)
    return present.astype(np.int64) @ weights


def _prior_reporting(
    batch: ReadingBatch, reported: np.ndarray, registry: Mapping[str, int], rows: np.ndarray
) -> np.ndarray:
    """Sensors each row's device had reported before it: the registry mask plus earlier rows."""
    stored = np.fromiter(
        (registry.get(d, 0) for d in batch.device_id), dtype=np.int64, count=len(batch)
    )
    positions = np.flatnonzero(rows)
    devices = batch.device_id[positions]
    if len(np.unique(devices)) == len(devices):
        return stored  # one row per device: nothing earlier in the batch to add
    order = positions[np.lexsort((batch.timestamp_device[positions], devices))]
    bits = pd.DataFrame((reported[order, None] >> np.arange(len(SENSOR_NAMES))) & 1)
    keys = batch.device_id[order]
    earlier = bits.groupby(keys).cummax().groupby(keys).shift(1, fill_value=0).to_numpy()
    prior = stored.copy()
    prior[order] |= earlier.astype(np.int64) @ (1 << np.arange(len(SENSOR_NAMES), dtype=np.int64))
    return prior


def flag_names(mask: int) -> list[str]:
    return [flag.value for flag, bit in FLAG_BIT.items() if mask & bit]
