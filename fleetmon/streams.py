"""The readings stream on Redis, fed through a transactional outbox; how far the rules got.

Partitions by device hash, bounded length, batch messages: ingest queues one message per
partition per committed batch (not one per reading), so a 1,000-reading batch costs a
handful of XADDs. Consumers read partitions with a consumer group and acknowledge a message
only after their own writes commit.

No committed reading misses the stream, whatever Redis does:

1. Ingest writes each message into `stream_outbox` in the transaction of its readings
   (`outbox_add`): both are committed, or neither.
2. After commit the request relays (`relay`): under a per-partition advisory lock it appends
   the partition's pending messages to Redis oldest first, then deletes them. Redis down:
   the rows stay, and the request still succeeds.
3. The streaming rules worker relays what is left (Redis was down, or a web process died
   between commit and relay) on every step, so the backlog goes out as soon as Redis is
   back, before anything newer of its partition: a device's readings reach the stream in
   the order they were committed.

A relay that dies between XADD and DELETE sends a message twice; the rules skip readings at
or before the last one they evaluated, and alerts are keyed by rule and reading time.

`stream_progress` is the rules' side: per device, the time of the last clean reading whose
alerts are committed (`progress_record`). A worker that rebuilds a device's state replays
stored readings up to it without alerting and evaluates the rest, so a reading it never saw
is never taken for one it alerted on. A backfill (`ingest_batch(stream=False)`) moves the
mark over its readings: history is not news for the rules.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from functools import cache

import orjson
import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

GROUP = "rules"
# pg_advisory_xact_lock(class, partition): the relay of one partition at a time.
RELAY_LOCK = 0x5F1EE7
RELAY_BATCH = 200
# After a failed relay a web process leaves the backlog to the rules worker this long,
# instead of paying a Redis timeout on every request.
WEB_RELAY_PAUSE_SECONDS = 5.0
_web_relay_paused_until = 0.0


def partition_of(device_id: str) -> int:
    """A stable partition for a device (crc32, not hash(): the same in every process)."""
    return zlib.crc32(device_id.encode()) % settings.FLEETMON_STREAM_PARTITIONS


def stream_key(partition: int) -> str:
    return f"fleetmon:readings:{partition}"


def client() -> redis.Redis:
    """This process's Redis client for REDIS_URL: short timeouts, one immediate retry.

    The retry reconnects a pooled connection that a Redis restart left dead; anything
    longer is the caller's loop's business, with its own backoff.
    """
    return _client(settings.REDIS_URL, settings.FLEETMON_REDIS_TIMEOUT_SECONDS)


@cache
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        # Above the rules worker's blocking read (block_ms), which is part of a read.
        socket_timeout=timeout + 2,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def by_partition(readings: Iterable[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for reading in readings:
        grouped[partition_of(reading["device_id"])].append(reading)
    return grouped


# ---------------------------------------------------------------- the outbox


def outbox_add(*, cursor, readings: Iterable[dict]) -> list[int]:
    """Queue readings for the stream inside the caller's transaction; return partitions.

    Each reading: {"device_id", "timestamp" (ISO UTC), "values": {sensor: value}}.
    """
    grouped = by_partition(readings)
    if grouped:
        cursor.execute(
            "INSERT INTO stream_outbox (partition, payload)"
            " SELECT * FROM unnest(%s::int2[], %s::bytea[])",
            [list(grouped), [orjson.dumps(batch) for batch in grouped.values()]],
        )
    return sorted(grouped)


def relay(*, partitions: Iterable[int], wait: bool = True, limit: int = RELAY_BATCH) -> int:
    """Append pending outbox messages of `partitions` to Redis, oldest first; return how many.

    With `wait`, wait for each partition's lock; without, skip partitions another relay
    holds. Raises RedisError (nothing is deleted then) or DatabaseError.
    """
    partitions = sorted(set(partitions))
    with transaction.atomic(), connection.cursor() as cursor:
        locked = []
        for partition in partitions:
            function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            cursor.execute(f"SELECT {function}(%s, %s)", [RELAY_LOCK, partition])
            if wait or cursor.fetchone()[0]:
                locked.append(partition)
        if not locked:
            return 0
        cursor.execute(
            "SELECT id, partition, payload FROM stream_outbox WHERE partition = ANY(%s)"
            " ORDER BY id LIMIT %s",
            [locked, limit],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        with client().pipeline(transaction=False) as pipe:
            for _, partition, payload in rows:
                pipe.xadd(
                    stream_key(partition),
                    {"readings": bytes(payload)},
                    maxlen=settings.FLEETMON_STREAM_MAXLEN,
                    approximate=True,
                )
            pipe.execute()
        cursor.execute("DELETE FROM stream_outbox WHERE id = ANY(%s)", [[r[0] for r in rows]])
    return len(rows)


def relay_after_commit(partitions: list[int]) -> None:
    """The web's relay after an ingest commit: never raises, the readings are stored."""
    global _web_relay_paused_until
    if time.monotonic() < _web_relay_paused_until:
        return
    try:
        relay(partitions=partitions)
    except (redis.RedisError, DatabaseError) as exc:
        _web_relay_paused_until = time.monotonic() + WEB_RELAY_PAUSE_SECONDS
        logger.warning(
            "stream relay failed (%s: %s); the rules worker relays the backlog",
            type(exc).__name__,
            exc,
        )


def outbox_pending(*, partitions: Iterable[int]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM stream_outbox WHERE partition = ANY(%s))",
            [sorted(set(partitions))],
        )
        return cursor.fetchone()[0]


# ---------------------------------------------------------------- rules progress


def progress_of(*, device_ids: Iterable[str]) -> dict[str, datetime]:
    """Time of the last reading whose alerts are committed, per device that has one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT device_id, evaluated_through FROM stream_progress WHERE device_id = ANY(%s)",
            [list(device_ids)],
        )
        return dict(cursor.fetchall())


def progress_record(*, through: dict[str, datetime]) -> None:
    """Move each device's mark forward to `through` (never back)."""
    if not through:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stream_progress (device_id, evaluated_through)"
            " SELECT * FROM unnest(%s::text[], %s::timestamptz[])"
            " ON CONFLICT (device_id) DO UPDATE SET evaluated_through ="
            " greatest(stream_progress.evaluated_through, excluded.evaluated_through)",
            [list(through), list(through.values())],
        )
