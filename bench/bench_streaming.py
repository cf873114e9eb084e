"""Streaming latency: ingest request -> Redis stream -> rules worker -> websocket event.

Starts uvicorn (4 workers) and streaming rules workers on a fresh bench database, a real
websocket client logged in as a fleet-wide user, then streams the simulated fleet through
the HTTP ingest API at a fixed rate (one simulated minute of every device per tick).
Every second one more device gets an acute compressor overload lasting three simulated
minutes (the rule needs 3 of the last 4 readings: a single reading is only a LOW note); the
latency is measured from the start of the HTTP request that carried the third reading to
the CRITICAL event on the socket.

    python -m bench.bench_streaming [--rates 2000 5000] [--seconds 30]
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.benchdb import setup_bench_database, start_process, stop_processes

PERSIST = 3  # readings over the limit before the overload rule fires (its default k)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--rule-workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    url = setup_bench_database()

    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from fleetmon.accounts.models import Profile
    from fleetmon.registry.services import fleet_token_create
    from fleetmon.simulator.services import simulation_prepare
    from fleetmon.streams import client, stream_key

    devices = max(args.rates)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    gen = simulation_prepare(
        devices=devices, seed=42, start=now - timedelta(days=1), end=now, fault_fraction=0.0
    )
    _, token = fleet_token_create(name="bench")
    user = get_user_model().objects.create_user("bench-ops", password="x")
    Profile.objects.create(user=user, role="manager")
    web = Client()
    web.force_login(user)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    redis = client()
    redis.delete(*[stream_key(p) for p in range(16)])

    env = {**os.environ, "DATABASE_URL": url}
    procs = [
        start_process(
            [sys.executable, "-m", "uvicorn", "fleetmon.asgi:application", "--port", str(args.port)]
            + ["--workers", str(args.web_workers), "--lifespan", "off", "--no-access-log"],
            env,
        )
    ]
    from django.conf import settings

    partitions = list(range(settings.FLEETMON_STREAM_PARTITIONS))
    for w in range(args.rule_workers):
        mine = [str(p) for p in partitions if p % args.rule_workers == w]
        procs.append(
            start_process(
                [sys.executable, "manage.py", "run_streaming_rules", "--name", f"bench-{w}"]
                + ["--partitions", *mine],
                env,
            )
        )
    base = f"http://127.0.0.1:{args.port}"
    try:
        _wait_for(base)
        # Simulated time runs one minute per tick, from two hours ago: always "on time".
        minute = [now - timedelta(hours=2)]
        for rate in sorted(args.rates):
            result = asyncio.run(_run(base, token, cookie, gen, rate, args.seconds, minute))
            _report(rate, args.seconds, result)
    finally:
        stop_processes(procs)


def _wait_for(base: str) -> None:
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"{base}/api/schema/", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("uvicorn did not start")


async def _run(base, token, cookie, gen, rate, seconds, minute):
    import httpx
    import orjson
    import websockets

    from fleetmon.simulator.generator import to_messages

    ids = [d.device_id for d in gen.fleet.devices][:rate]
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    sent_at: dict[str, float] = {}  # device id -> start of the request that carried its fault
    received: dict[str, float] = {}
    events_per_fault: dict[str, int] = {}
    accepted = 0
    ws_url = base.replace("http", "ws") + "/ws/alerts/"

    async with websockets.connect(
        ws_url, additional_headers={"Origin": base, "Cookie": cookie}, max_size=None
    ) as ws:

        async def listen():
            async for raw in ws:
                event = orjson.loads(raw)
                if event.get("severity") == "CRITICAL" and event["device_id"] in sent_at:
                    received.setdefault(event["device_id"], time.perf_counter())
                    device = event["device_id"]
                    events_per_fault[device] = events_per_fault.get(device, 0) + 1

        listener = asyncio.create_task(listen())
        async with httpx.AsyncClient(timeout=30) as http:

            async def post(batch, fault_device):
                nonlocal accepted
                start = time.perf_counter()
                if fault_device:
                    sent_at[fault_device] = start
                response = await http.post(f"{base}/api/v1/ingest/", content=batch, headers=headers)
                accepted += response.json()["accepted"]

            # Warm-up tick: workers rebuild each device's state the first time they see it.
            await _tick(gen, ids, minute, set(), None, post, to_messages)
            await asyncio.sleep(3)
            accepted = 0
            t0 = time.perf_counter()
            for tick in range(seconds):
                due = t0 + tick
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                # One acute fault starts a second and lasts 3 ticks; the oldest completes.
                faults = [ids[((tick - k) * 37) % len(ids)] for k in range(PERSIST) if tick >= k]
                completing = faults[-1] if tick >= PERSIST - 1 else None
                await _tick(gen, ids, minute, set(faults), completing, post, to_messages)
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(5)  # the last faults' events
        listener.cancel()
    latencies = [received[d] - sent_at[d] for d in sent_at if d in received]
    return {
        "accepted": accepted,
        "elapsed": elapsed,
        "faults": len(sent_at),
        "arrived": len(latencies),
        "duplicates": sum(n - 1 for n in events_per_fault.values()),
        "latencies": latencies,
    }


async def _tick(gen, ids, minute, faults, completing, post, to_messages):
    """POST one simulated minute of `ids` in 1,000-reading batches, concurrently; devices in
    `faults` read 48 A, and the batch carrying `completing` is the one that is timed."""
    import orjson

    frame = gen.frame(minute[0], minute[0] + timedelta(minutes=1))
    frame = frame[frame["device_id"].isin(set(ids))]
    messages = to_messages(frame, gen.fleet)
    minute[0] += timedelta(minutes=1)
    posts = []
    for i in range(0, len(messages), 1000):
        batch = messages[i : i + 1000]
        carried = None
        for m in batch:
            if m["device_id"] in faults:
                m["readings"]["current_compressor"] = 48.0
                if m["device_id"] == completing:
                    carried = completing
        posts.append(post(orjson.dumps(batch), carried))
    await asyncio.gather(*posts)


def _report(rate, seconds, result):
    lat = sorted(result["latencies"])
    print(f"== {rate:,} readings/s offered for {seconds} s")
    print(f"   sustained: {result['accepted'] / result['elapsed']:,.0f} readings/s accepted")
    print(
        f"   acute faults injected {result['faults']}, arrived as CRITICAL events "
        f"{result['arrived']}, duplicated {result['duplicates']}"
    )
    if lat:
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
        print(
            "   ingest request -> websocket event ms: "
            f"p50 {q[49] * 1000:.0f}  p95 {q[94] * 1000:.0f}  p99 {q[98] * 1000:.0f}  "
            f"max {lat[-1] * 1000:.0f}   (target p99 < 1000)"
        )


if __name__ == "__main__":
    main()
