"""Ingest: run contract C1 -> C2 on a batch and write every row where it belongs, with COPY.

One transaction per batch: the raw landing rows, the clean rows, quarantine, dead letter
and registry updates are committed together or not at all. Replays are harmless: rows
already stored (by event_id, or by device + device timestamp) are counted as duplicates
and written nowhere.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from fleetmon.sensors import IS_BOOLEAN_SENSOR, SENSOR_NAMES
from fleetmon.streams import outbox_add, progress_record, relay_after_commit
from quality.checks.readings import (
    Checked,
    Limits,
    ReadingBatch,
    Route,
    RowError,
    check_batch,
    clock_drifted,
    duplicates_in_batch,
    flag_names,
    parse_messages,
    refuse_future,
)

logger = logging.getLogger(__name__)

# A concurrent batch carrying the same readings can commit between our dedup look-up and
# our COPY; the unique indexes then refuse ours and a retry sees its rows as duplicates.
RACE_RETRIES = 3

RAW_COLUMNS = (
    "event_id",
    "device_id",
    "timestamp_device",
    "timestamp_ingested",
    "timestamp_utc",
    *SENSOR_NAMES,
    "_partition_key",
)
CLEAN_COLUMNS = (
    "event_id",
    "device_id",
    "timestamp_utc",
    *SENSOR_NAMES,
    "quality_flags",
    "sensor_null_count",
)
HELD_COLUMNS = (*CLEAN_COLUMNS, "reason", "timestamp_ingested")
SENSOR_TYPES = tuple("bool" if b else "float8" for b in IS_BOOLEAN_SENSOR)
COLUMN_TYPES = {
    "event_id": "uuid",
    "device_id": "text",
    "timestamp_device": "timestamptz",
    "timestamp_ingested": "timestamptz",
    "timestamp_utc": "timestamptz",
    "_partition_key": "text",
    "quality_flags": "text[]",
    "sensor_null_count": "int2",
    "reason": "text",
    **dict(zip(SENSOR_NAMES, SENSOR_TYPES, strict=True)),
}


@dataclass
class IngestResult:
    accepted: int = 0
    flagged: int = 0
    quarantined: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def add(self, other: IngestResult) -> None:
        for name in (
            "accepted",
            "flagged",
            "quarantined",
            "dead_lettered",
            "duplicates",
            "rejected",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


def contract_limits(*, backfill: bool = False) -> Limits:
    """Return the contract's settings; a backfill trusts device clocks (no CLOCK_DRIFT)."""
    drift = None if backfill else timedelta(hours=settings.FLEETMON_CLOCK_DRIFT_HOURS)
    limits = Limits(clock_drift=drift)
    return limits.with_range("humidity", 0, settings.FLEETMON_HUMIDITY_MAX)


def ingest_messages(
    *, messages: list, received_at: datetime | None = None, backfill: bool = False
) -> IngestResult:
    """Type-check raw messages, then ingest the valid ones; rejected rows are reported back.

    With `backfill`, the messages are recorded history: device timestamps are kept however
    old they are, a timestamp more than FLEETMON_BACKFILL_FUTURE_MINUTES after
    `received_at` is rejected, and nothing goes to the readings stream.
    """
    received_at = received_at or timezone.now()
    batch, errors = parse_messages(messages)
    if backfill:
        tolerance = timedelta(minutes=settings.FLEETMON_BACKFILL_FUTURE_MINUTES)
        batch, future = refuse_future(batch, ingested_at=received_at, tolerance=tolerance)
        errors = sorted([*errors, *future], key=lambda e: e.index)
    result = ingest_batch(
        batch=batch, received_at=received_at, stream=not backfill, backfill=backfill
    )
    result.rejected = len({e.index for e in errors})
    result.errors = errors
    return result


def ingest_batch(
    *,
    batch: ReadingBatch,
    received_at: datetime | None = None,
    stream: bool = True,
    backfill: bool = False,
) -> IngestResult:
    """Apply the contract to a type-checked batch and write it in one transaction.

    With `stream`, the clean readings go to the readings stream (an outbox row in this
    transaction, relayed after commit); a backfill of history passes False (streaming rules
    are for what happens now): its readings count as evaluated (fleetmon.streams progress).
    With `backfill`, device clocks are trusted (no CLOCK_DRIFT): the caller has refused
    future timestamps already.
    """
    received_at = received_at or timezone.now()
    if not len(batch):
        return IngestResult()
    for attempt in range(1, RACE_RETRIES + 1):
        try:
            with transaction.atomic():
                return _ingest_once(batch, received_at, stream, backfill)
        except psycopg.errors.UniqueViolation:
            if attempt == RACE_RETRIES:
                raise
            logger.info("ingest race on %d rows, retrying (attempt %d)", len(batch), attempt)
    raise AssertionError("unreachable")


def _ingest_once(
    batch: ReadingBatch, received_at: datetime, stream: bool, backfill: bool
) -> IngestResult:
    limits = contract_limits(backfill=backfill)
    # A plain psycopg cursor: server-side binding sends the key arrays in binary, much
    # faster than Django's client-side quoting of thousands of values.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        in_batch = duplicates_in_batch(batch)
        registry = _registry_masks(cursor, batch)
        stored = _already_stored(cursor, batch, ~in_batch[0], received_at, limits)
        checked = check_batch(
            batch,
            ingested_at=received_at,
            registry=registry,
            already_stored=stored,
            limits=limits,
            in_batch=in_batch,
        )
        _write(cursor, batch, checked, received_at)
        _grow_reporting_masks(cursor, batch, checked, registry)
        clean = np.flatnonzero(checked.route == Route.CLEAN)
        if stream and len(clean):
            # The stream's messages commit with the readings (fleetmon.streams: the outbox)
            # and go to Redis after commit only: a rolled-back batch never reaches the rules.
            messages = _stream_messages(batch, checked, clean)
            partitions = outbox_add(cursor=cursor, readings=messages)
            transaction.on_commit(lambda: relay_after_commit(partitions))
        elif len(clean):
            progress_record(through=_latest(batch, checked, clean))
    result = IngestResult(
        accepted=checked.count(Route.CLEAN),
        flagged=int(np.count_nonzero((checked.route == Route.CLEAN) & (checked.flags != 0))),
        quarantined=checked.count(Route.QUARANTINE),
        dead_lettered=checked.count(Route.DEAD_LETTER),
        duplicates=checked.count(Route.DUPLICATE),
    )
    logger.debug("ingested %s", result)
    return result


def _registry_masks(cursor, batch: ReadingBatch) -> dict[str, int]:
    """Known devices of the batch and the sensors each has reported."""
    cursor.execute(
        "SELECT device_id, reporting_sensors FROM registry_device WHERE device_id = ANY(%s)",
        [list(set(batch.device_id))],
    )
    return dict(cursor.fetchall())


def _already_stored(
    cursor, batch: ReadingBatch, first_copies: np.ndarray, received_at: datetime, limits: Limits
) -> np.ndarray:
    """Rows whose event_id, or whose device + device timestamp, is already in the landing table.

    The landing table is partitioned by `timestamp_utc`, so the look-ups only visit the
    chunks where an earlier copy can be: at the device timestamp for on-time readings, and
    within the dedup horizon for clock-drifted ones (whose `timestamp_utc` was their
    ingestion time). A backfill (`limits.clock_drift` None) stores every reading at its
    device time, so it looks there for all of them, however far in the past; it also
    looks within the horizon for old ones, which a load without `--backfill` would have
    stored at its ingestion time.
    """
    at = np.datetime64(received_at.astimezone(UTC).replace(tzinfo=None), "us")
    candidates = np.flatnonzero(first_copies)
    drifted = clock_drifted(batch, at, contract_limits())
    on_time = candidates if limits.clock_drift is None else candidates[~drifted[candidates]]
    ranges = []
    if len(on_time):
        stamps = batch.timestamp_device[on_time]
        ranges.append((_aware(stamps.min()), _aware(stamps.max())))
    if drifted[candidates].any():
        horizon = timedelta(hours=settings.FLEETMON_DEDUP_HORIZON_HOURS)
        ranges.append((received_at - horizon, received_at))
    window = " OR ".join(["timestamp_utc BETWEEN %s AND %s"] * len(ranges))
    bounds = [v for pair in ranges for v in pair]
    devices = list(set(batch.device_id[candidates]))

    # Cheap first: fresh readings (the usual case, live or backfill) have no stored row of
    # their devices in their time window at all, and then neither look-up below can match.
    cursor.execute(
        f"SELECT 1 FROM raw_sensor_readings WHERE device_id = ANY(%s) AND ({window}) LIMIT 1",
        [devices, *bounds],
    )
    stored = np.zeros(len(batch), dtype=bool)
    if cursor.fetchone() is None:
        return stored
    cursor.execute(
        f"SELECT event_id FROM raw_sensor_readings WHERE event_id = ANY(%s) AND ({window})",
        [batch.event_id[candidates].tolist(), *bounds],
    )
    seen_events = {row[0] for row in cursor}
    # Devices x timestamps is a superset of the pairs; the exact pairs are matched below.
    stamps = _aware_list(batch.timestamp_device[candidates])
    cursor.execute(
        "SELECT device_id, timestamp_device FROM raw_sensor_readings"
        f" WHERE device_id = ANY(%s) AND timestamp_device = ANY(%s) AND ({window})",
        [devices, list(set(stamps)), *bounds],
    )
    seen_readings = set(cursor)
    if seen_events or seen_readings:
        for position, event_id, device_id, stamp in zip(
            candidates, batch.event_id[candidates], batch.device_id[candidates], stamps, strict=True
        ):
            stored[position] = event_id in seen_events or (device_id, stamp) in seen_readings
    return stored


def _write(cursor, batch: ReadingBatch, checked: Checked, received_at: datetime) -> None:
    """COPY each row to the tables its route names (raw gets every non-duplicate)."""
    keep = checked.route != Route.DUPLICATE
    columns = {
        "event_id": batch.event_id.tolist(),
        "device_id": batch.device_id.tolist(),
        "timestamp_device": _aware_list(batch.timestamp_device),
        "timestamp_utc": _aware_list(checked.timestamp_utc),
        "quality_flags": _flag_lists(checked.flags),
        "sensor_null_count": checked.null_count.tolist(),
    }
    n = len(batch)
    columns["timestamp_ingested"] = [received_at] * n
    columns["_partition_key"] = columns["device_id"]
    received = _sensor_lists(batch.values)
    clean = _sensor_lists(checked.values)

    _copy(cursor, "raw_sensor_readings", RAW_COLUMNS, {**columns, **received}, np.flatnonzero(keep))
    _copy(
        cursor,
        "clean_sensor_readings",
        CLEAN_COLUMNS,
        {**columns, **clean},
        np.flatnonzero(checked.route == Route.CLEAN),
    )
    _copy(
        cursor,
        "quarantine_sensor_readings",
        HELD_COLUMNS,
        {**columns, **clean, "reason": ["DEVICE_UNKNOWN"] * n},
        np.flatnonzero(checked.route == Route.QUARANTINE),
    )
    _copy(
        cursor,
        "dead_letter_sensor_readings",
        HELD_COLUMNS,
        {**columns, **received, "reason": ["ALL_SENSORS_NULL"] * n},
        np.flatnonzero(checked.route == Route.DEAD_LETTER),
    )


def _copy(cursor, table: str, names: tuple[str, ...], columns: dict, rows: np.ndarray) -> None:
    if not len(rows):
        return
    picked = [columns[name] for name in names]
    if len(rows) != len(picked[0]):
        picked = [[col[i] for i in rows] for col in picked]
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    with cursor.copy(sql) as copy:
        copy.set_types([COLUMN_TYPES[name] for name in names])
        for row in zip(*picked, strict=True):
            copy.write_row(row)


def _grow_reporting_masks(cursor, batch: ReadingBatch, checked: Checked, registry: dict) -> None:
    """Record sensors that known devices report for the first time (for SENSOR_GAP)."""
    keep = checked.route != Route.DUPLICATE
    grown: dict[str, int] = {}
    for device, mask in zip(batch.device_id[keep], checked.reported[keep], strict=True):
        if device in registry:
            grown[device] = grown.get(device, registry[device]) | int(mask)
    changed = {d: m for d, m in grown.items() if m != registry[d]}
    if changed:
        cursor.execute(
            "UPDATE registry_device d SET reporting_sensors = d.reporting_sensors | u.mask"
            " FROM unnest(%s::text[], %s::int[]) AS u(id, mask) WHERE d.device_id = u.id",
            [list(changed), list(changed.values())],
        )


def _stream_messages(batch: ReadingBatch, checked: Checked, rows: np.ndarray) -> list[dict]:
    """The clean readings as stream payloads (values after the range check)."""
    # To the microsecond, as stored: a rebuilt state compares them with stored readings.
    stamps = np.datetime_as_string(checked.timestamp_utc[rows], unit="us")
    values = _sensor_lists(checked.values[rows])
    return [
        {
            "device_id": batch.device_id[i],
            "timestamp": f"{stamps[k]}Z",
            "values": {name: values[name][k] for name in SENSOR_NAMES},
        }
        for k, i in enumerate(rows.tolist())
    ]


def _latest(batch: ReadingBatch, checked: Checked, rows: np.ndarray) -> dict[str, datetime]:
    """Each device's latest clean reading time among `rows`."""
    latest: dict[str, np.datetime64] = {}
    for device, stamp in zip(batch.device_id[rows], checked.timestamp_utc[rows], strict=True):
        if device not in latest or stamp > latest[device]:
            latest[device] = stamp
    return {device: _aware(stamp) for device, stamp in latest.items()}


def _sensor_lists(values: np.ndarray) -> dict[str, list]:
    """Columns of Python values for COPY: None for NaN, bool for door and defrost."""
    out = {}
    for j, name in enumerate(SENSOR_NAMES):
        column = values[:, j].tolist()
        if IS_BOOLEAN_SENSOR[j]:
            out[name] = [None if v != v else v == 1.0 for v in column]
        else:
            out[name] = [None if v != v else v for v in column]
    return out


_FLAG_CACHE: dict[int, list[str]] = {}


def _flag_lists(flags: np.ndarray) -> list[list[str]]:
    out = []
    for mask in flags.tolist():
        names = _FLAG_CACHE.get(mask)
        if names is None:
            names = _FLAG_CACHE[mask] = flag_names(mask)
        out.append(names)
    return out


def _aware(stamp: np.datetime64) -> datetime:
    return stamp.astype("datetime64[us]").astype(datetime).replace(tzinfo=UTC)


def _aware_list(stamps: np.ndarray) -> list[datetime]:
    """Timezone-aware datetimes for COPY, converting each distinct instant once.

    A batch holds few distinct instants (one per minute), so this is mostly a list lookup.
    """
    distinct, positions = np.unique(stamps.astype("datetime64[us]"), return_inverse=True)
    aware = [s.replace(tzinfo=UTC) for s in distinct.astype(object)]
    return [aware[i] for i in positions.tolist()]
