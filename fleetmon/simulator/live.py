"""Stream a simulated fleet live through the HTTP ingest API, minute by minute.

The generator keeps its state between frames, so each minute costs only that minute's
physics. The first minute of a fresh process simulates from the fleet's stored origin up
to now once, so the live readings continue the backfilled history's trajectory.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from fleetmon.simulator.generator import FleetGenerator, to_messages

logger = logging.getLogger(__name__)
# One INFO line per request would drown the simulator's own per-minute summary.
logging.getLogger("httpx").setLevel(logging.WARNING)


def stream_live(
    *,
    generator: FleetGenerator,
    url: str,
    token: str,
    start: datetime,
    speed: float = 1.0,
    batch_size: int = 1000,
    minutes: int | None = None,
    on_minute: Callable[[datetime, dict], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST each simulated minute's readings when its time comes.

    The simulated clock starts at `start` and runs `speed` times faster than the wall
    clock. A failed request is retried with back-off: the API is idempotent, so a batch
    that was stored but not acknowledged is counted as duplicates the second time.
    """
    wall0 = time.monotonic()
    minute = start.replace(second=0, microsecond=0)
    sent = 0
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    with httpx.Client(timeout=30, headers=headers) as client:
        while minutes is None or sent < minutes:
            due = wall0 + (minute - start).total_seconds() / speed
            if (delay := due - time.monotonic()) > 0:
                sleep(delay)
            messages = to_messages(
                generator.frame(minute, minute + timedelta(minutes=1)), generator.fleet
            )
            totals: dict = {}
            for i in range(0, len(messages), batch_size):
                answer = _post(client, url, messages[i : i + batch_size])
                for key, value in answer.items():
                    if isinstance(value, int):
                        totals[key] = totals.get(key, 0) + value
            if on_minute:
                on_minute(minute, totals)
            minute += timedelta(minutes=1)
            sent += 1


def _post(client: httpx.Client, url: str, messages: list[dict], attempts: int = 5) -> dict:
    body = orjson.dumps(messages)
    for attempt in range(attempts):
        try:
            response = client.post(url, content=body)
            if response.status_code < 500:
                if response.status_code >= 400 and response.status_code != 422:
                    raise RuntimeError(
                        f"ingest refused the batch: {response.status_code} {response.text}"
                    )
                return response.json()
        except httpx.TransportError as exc:
            logger.warning("ingest unreachable (%s), retrying", exc)
        time.sleep(min(2**attempt, 30))
    raise RuntimeError(f"ingest at {url} failed {attempts} times")


def utcnow_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)
