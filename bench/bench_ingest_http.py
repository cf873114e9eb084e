"""HTTP ingest: readings/s through POST /api/v1/ingest/ on the real ASGI server.

Starts uvicorn on a fresh bench database, registers a simulated fleet, pre-builds JSON
bodies of 1,000 readings each (on-time readings, one simulated minute per body), then sends
them with concurrent clients and prints readings/s and request latency. 4 uvicorn workers by
default: Django runs sync views on one thread per worker, so more workers than the 2 cores
keep both busy while requests wait on the database.

    python -m bench.bench_ingest_http [--devices 1000] [--batches 120] [--workers 4]
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.benchdb import setup_bench_database, start_process, stop_processes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    url = setup_bench_database()

    import logging

    import httpx
    import orjson

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from fleetmon.registry.services import fleet_token_create
    from fleetmon.simulator.generator import to_messages
    from fleetmon.simulator.services import simulation_prepare

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes = -(-args.batches * args.batch_size // args.devices)
    start = now - timedelta(minutes=minutes + 1)
    gen = simulation_prepare(
        devices=args.devices, seed=42, start=start, end=now, fault_fraction=0.05
    )
    messages = to_messages(gen.frame(start, start + timedelta(minutes=minutes)), gen.fleet)
    bodies = [
        orjson.dumps(messages[i : i + args.batch_size])
        for i in range(0, len(messages), args.batch_size)
    ][: args.batches]
    _, token = fleet_token_create(name="bench")

    env = {**os.environ, "DATABASE_URL": url}
    server = start_process(
        [sys.executable, "-m", "uvicorn", "fleetmon.asgi:application", "--port", str(args.port)]
        + ["--workers", str(args.workers), "--lifespan", "off", "--no-access-log"],
        env,
    )
    endpoint = f"http://127.0.0.1:{args.port}/api/v1/ingest/"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    try:
        for _ in range(100):
            try:
                # Warm every worker's connection and caches with an empty batch.
                for _ in range(args.workers * 2):
                    httpx.post(endpoint, content=b"[]", headers=headers, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        latencies, elapsed, counted = asyncio.run(
            _send(endpoint, headers, bodies, args.concurrency)
        )
    finally:
        stop_processes([server])

    readings = sum(counted.values())
    q = statistics.quantiles(latencies, n=100)
    print(f"batches: {len(bodies)} x {args.batch_size} readings, {args.workers} uvicorn workers,")
    print(f"         {args.concurrency} concurrent clients; answered: {counted}")
    rate = readings / elapsed
    print(f"HTTP ingest: {rate:,.0f} readings/s  ({elapsed:.2f} s)  (target >= 20,000)")
    p50, p95, worst = (v * 1000 for v in (q[49], q[94], max(latencies)))
    print(f"request latency ms: p50 {p50:.0f}  p95 {p95:.0f}  max {worst:.0f}")


async def _send(endpoint, headers, bodies, concurrency):
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    counted: dict[str, int] = {}

    async def client_loop(client):
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            response = await client.post(endpoint, content=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            response.raise_for_status()
            for key in ("accepted", "quarantined", "dead_lettered", "duplicates", "rejected"):
                counted[key] = counted.get(key, 0) + response.json()[key]

    async with httpx.AsyncClient(timeout=60) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return latencies, elapsed, counted


if __name__ == "__main__":
    main()
