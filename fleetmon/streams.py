"""The readings stream on Redis: partitions by device hash, bounded length, batch messages.

Ingest appends one message per partition per committed batch (not one per reading), so a
1,000-reading batch costs a handful of XADDs. Consumers read partitions with a consumer
group and acknowledge a message only after their own writes commit.
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable

import orjson
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

GROUP = "rules"


def partition_of(device_id: str) -> int:
    """A stable partition for a device (crc32, not hash(): the same in every process)."""
    return zlib.crc32(device_id.encode()) % settings.FLEETMON_STREAM_PARTITIONS


def stream_key(partition: int) -> str:
    return f"fleetmon:readings:{partition}"


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def publish(readings: Iterable[dict]) -> int:
    """Append committed readings to their partitions; return the number of messages.

    Each reading: {"device_id", "timestamp" (ISO UTC), "values": {sensor: value}}. A Redis
    failure is logged, not raised: the readings are committed, the database is the truth,
    and a streaming worker rebuilds its state from it.
    """
    by_partition: dict[int, list[dict]] = defaultdict(list)
    for reading in readings:
        by_partition[partition_of(reading["device_id"])].append(reading)
    if not by_partition:
        return 0
    try:
        with client().pipeline(transaction=False) as pipe:
            for partition, batch in by_partition.items():
                pipe.xadd(
                    stream_key(partition),
                    {"readings": orjson.dumps(batch)},
                    maxlen=settings.FLEETMON_STREAM_MAXLEN,
                    approximate=True,
                )
            pipe.execute()
    except redis.RedisError:
        logger.exception("could not publish %d readings to the stream", len(by_partition))
        return 0
    return len(by_partition)
