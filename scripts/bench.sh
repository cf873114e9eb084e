#!/usr/bin/env bash
# Run every benchmark in bench/ and print its figures. Each uses its own fresh database.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
set -a; eval "$(scripts/services.sh)"; set +a
export REDIS_URL="${REDIS_URL%/*}/14"
for bench in bench_generator bench_ingest_bulk bench_ingest_http bench_scoring bench_streaming \
    bench_queue bench_drift; do
  echo "== $bench"
  .venv/bin/python -m "bench.$bench"
done
