"""Bulk ingest (contract checks, flags, raw + clean writes) next to a bare COPY of the same rows.

Both write the same rows into the same tables of the same fresh database; the bare COPY
gets the rows already built as tuples and only copies them. Prints readings/s and the ratio.

    python -m bench.bench_ingest_bulk [--devices 1000] [--hours 3]
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench.benchdb import setup_bench_database, truncate_readings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=3)
    args = parser.parse_args()
    url = setup_bench_database()

    import psycopg
    from django.db import connection

    from fleetmon.simulator.services import simulation_prepare
    from quality.checks.readings import batch_from_frame
    from quality.ingest import CLEAN_COLUMNS, COLUMN_TYPES, RAW_COLUMNS, ingest_batch

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=args.hours
    )
    gen = simulation_prepare(
        devices=args.devices,
        seed=42,
        start=start,
        end=start + timedelta(days=1),
        fault_fraction=0.05,
    )
    hours = [start + timedelta(hours=h) for h in range(args.hours)]
    frames = [gen.frame(h, h + timedelta(hours=1)) for h in hours]
    rows = sum(len(f) for f in frames)

    # 1. The bulk path as the simulator's backfill runs it: frame -> batch (event ids) ->
    #    contract -> COPY raw + clean (+ held); history is not sent to the streaming rules.
    t0 = time.perf_counter()
    for hour, frame in zip(hours, frames, strict=True):
        ingest_batch(
            batch=batch_from_frame(frame), received_at=hour + timedelta(hours=1), stream=False
        )
    bulk = time.perf_counter() - t0

    # The same rows as stored, to replay them with a bare COPY.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(RAW_COLUMNS)} FROM raw_sensor_readings")
        raw_rows = cursor.fetchall()
        cursor.execute(f"SELECT {', '.join(CLEAN_COLUMNS)} FROM clean_sensor_readings")
        clean_rows = cursor.fetchall()
    truncate_readings()

    # 2. Bare COPY of those rows into the same two tables, in batches of the same size.
    def bare_copy(table, columns, data):
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types([COLUMN_TYPES[c] for c in columns])
            for row in data:
                cp.write_row(row)

    per_batch = len(raw_rows) // len(frames) + 1
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        for i in range(0, len(raw_rows), per_batch):
            bare_copy("raw_sensor_readings", RAW_COLUMNS, raw_rows[i : i + per_batch])
            bare_copy("clean_sensor_readings", CLEAN_COLUMNS, clean_rows[i : i + per_batch])
            conn.commit()
        bare = time.perf_counter() - t0

    clean_share = len(clean_rows) / rows
    print(f"rows: {rows} ({args.devices} devices x {args.hours} h), clean {clean_share:.1%}")
    print(f"bulk ingest path : {rows / bulk:10,.0f} readings/s  ({bulk:.2f} s)")
    print(f"bare COPY        : {rows / bare:10,.0f} readings/s  ({bare:.2f} s)")
    print(f"ratio bulk/bare  : {bare / bulk:.2f}  (target >= 0.40)")


if __name__ == "__main__":
    main()
