"""Time the physics simulator: history generation, a live minute, and a large fleet.

1. 200 devices × 13 days of history in one frame (what the replay harness loads).
2. 1,000 devices, one live minute after an hour of history (what `simulate_fleet live`
   pays each minute once its state is cached).
3. Optionally (`--large`), 100,000 devices × 1 day, generated hour by hour so only an
   hour of readings is ever held (the generator keeps its state between frames).

Prints readings per second and the process's peak RSS after each part. Run from the repo
root as `python bench/bench_generator.py [--large]` or `python -m bench.bench_generator`.
"""

import argparse
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = 42
START = datetime(2026, 3, 2, tzinfo=UTC)


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(label: str, rows: int, seconds: float) -> None:
    print(
        f"{label}: {rows:,} readings in {seconds:.2f} s = {rows / seconds:,.0f} readings/s "
        f"(peak RSS {peak_rss_mb():,.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also run 100,000 devices × 1 day")
    args = parser.parse_args()
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    # Imported here so the script works without the repo root on the path beforehand.
    from fleetmon.simulator.events import plan_events
    from fleetmon.simulator.faults import plan_faults
    from fleetmon.simulator.fleet import make_fleet
    from fleetmon.simulator.generator import FleetGenerator, to_messages

    # 1. History.
    end = START + timedelta(days=13)
    fleet = make_fleet(200, seed=SEED)
    faults = plan_faults(fleet, seed=SEED, start=START + timedelta(days=10), end=end, fraction=0.25)
    events = plan_events(fleet, seed=SEED, start=START, end=end)
    generator = FleetGenerator(fleet, faults, seed=SEED, events=events)
    began = time.perf_counter()
    frame = generator.frame(START, end)
    report("history 200 devices × 13 days", len(frame), time.perf_counter() - began)
    del frame

    # 2. Live minutes.
    fleet = make_fleet(1_000, seed=SEED)
    faults = plan_faults(fleet, seed=SEED, start=START, end=end)
    generator = FleetGenerator(fleet, faults, seed=SEED)
    generator.frame(START, START + timedelta(hours=1))
    minute = START + timedelta(hours=1)
    timings = []
    for _ in range(30):
        began = time.perf_counter()
        frame = generator.frame(minute, minute + timedelta(minutes=1))
        timings.append(time.perf_counter() - began)
        minute += timedelta(minutes=1)
    timings.sort()
    print(
        f"live minute, 1,000 devices: median {timings[15] * 1000:.1f} ms, "
        f"worst {timings[-1] * 1000:.1f} ms over 30 minutes ({len(frame):,} readings)"
    )
    began = time.perf_counter()
    messages = to_messages(frame, fleet)
    elapsed_ms = (time.perf_counter() - began) * 1000
    print(f"to_messages: {len(messages):,} messages in {elapsed_ms:.1f} ms")

    # 3. A large fleet, an hour at a time.
    if args.large:
        began = time.perf_counter()
        fleet = make_fleet(100_000, seed=SEED)
        print(f"make_fleet 100,000 devices in {time.perf_counter() - began:.1f} s")
        generator = FleetGenerator(fleet, [], seed=SEED)
        rows, began = 0, time.perf_counter()
        for hour in range(24):
            at = START + timedelta(hours=hour)
            rows += len(generator.frame(at, at + timedelta(hours=1)))
        report("100,000 devices × 1 day, hour by hour", rows, time.perf_counter() - began)


if __name__ == "__main__":
    main()
