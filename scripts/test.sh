#!/usr/bin/env bash
# Run the whole suite against TimescaleDB and, alongside, the storage tests against plain PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
set -a; eval "$(scripts/services.sh)"; set +a
# Tests use their own Redis database so they never see a running demo's queues.
export REDIS_URL="${TEST_REDIS_URL:-${REDIS_URL%/*}/15}"
PY=.venv/bin/python

echo "== lint and migrations check"
.venv/bin/ruff check .
$PY manage.py makemigrations --check --dry-run >/dev/null

# Both runs at once, each spread over xdist workers (tests/suite_plugin.py keeps workers apart:
# a database per worker, and a pair of Redis databases counted down from REDIS_URL's). Tests
# go out one at a time in collection order (heavy ones first), except that an xdist_group
# (the chaos cases, which share one stack) stays on one worker.
WORKERS="${TEST_WORKERS:-3}"
PLAIN_WORKERS="${TEST_PLAIN_WORKERS:-2}"
REDIS_BASE="${REDIS_URL##*/}"

# The app also runs on plain PostgreSQL 15+; the storage tests prove it.
PLAIN_URL="${PLAIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fleetmon}"
plain_pid=""
if pg_isready -q -d "${PLAIN_URL%/*}/postgres"; then
  plain_log="$(mktemp)"
  trap 'kill "$plain_pid" 2>/dev/null || true; rm -f "$plain_log"' EXIT
  echo "== storage tests on plain PostgreSQL ($PLAIN_URL): running alongside, output below"
  DATABASE_URL="$PLAIN_URL" REDIS_URL="${REDIS_URL%/*}/$((REDIS_BASE - 2 * WORKERS))" \
    $PY -m pytest -m storage -n "$PLAIN_WORKERS" "$@" >"$plain_log" 2>&1 &
  plain_pid=$!
else
  echo "== storage tests on plain PostgreSQL: SKIPPED, nothing answers at $PLAIN_URL" >&2
  [ -z "${CI:-}" ] || { echo "CI needs plain PostgreSQL at $PLAIN_URL" >&2; exit 1; }
fi

echo "== full suite on TimescaleDB ($DATABASE_URL), $WORKERS workers"
status=0
$PY -m pytest -n "$WORKERS" --dist loadgroup --no-loadscope-reorder "$@" || status=$?

if [ -n "$plain_pid" ]; then
  plain_status=0
  wait "$plain_pid" || plain_status=$?
  echo "== storage tests on plain PostgreSQL ($PLAIN_URL), $PLAIN_WORKERS workers"
  cat "$plain_log"
  [ "$status" -ne 0 ] || status=$plain_status
fi
exit "$status"
