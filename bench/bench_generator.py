"""Time the synthetic generator: 1,000 devices × 1 day of minute readings (1.44 M rows).

Run from the repo root as `python bench/bench_generator.py` or
`python -m bench.bench_generator`.
"""

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
N_DEVICES = 1_000
SEED = 42


def main() -> None:
    """Generate one day for 1,000 devices with 5 % faults and print the throughput."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    # Imported here so the script works without the repo root on the path beforehand.
    from fleetmon.simulator.faults import plan_faults
    from fleetmon.simulator.fleet import make_fleet
    from fleetmon.simulator.generator import FleetGenerator, to_messages

    start = datetime(2026, 11, 26, tzinfo=UTC)
    end = start + timedelta(days=1)
    fleet = make_fleet(N_DEVICES, seed=SEED)
    faults = plan_faults(fleet, seed=SEED, start=start, end=end)
    generator = FleetGenerator(fleet, faults, seed=SEED)
    generator.frame(start, start + timedelta(minutes=10))  # warm caches and imports

    began = time.perf_counter()
    frame = generator.frame(start, end)
    elapsed = time.perf_counter() - began
    print(
        f"frame: {len(frame):,} rows ({N_DEVICES:,} devices × 1 day, {len(faults)} faults) "
        f"in {elapsed:.2f} s = {len(frame) / elapsed:,.0f} rows/s"
    )

    minute = frame[frame["timestamp"] == frame["timestamp"].iloc[-1]]
    began = time.perf_counter()
    messages = to_messages(minute, fleet)
    elapsed = time.perf_counter() - began
    print(f"to_messages: {len(messages):,} messages (one minute) in {elapsed * 1000:.1f} ms")


if __name__ == "__main__":
    main()
