#!/usr/bin/env bash
# Run the whole suite against TimescaleDB, then the storage tests against plain PostgreSQL.
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

echo "== full suite on TimescaleDB ($DATABASE_URL)"
$PY -m pytest "$@"

# The app also runs on plain PostgreSQL 15+; the storage tests prove it.
PLAIN_URL="${PLAIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fleetmon}"
if pg_isready -q -d "${PLAIN_URL%/*}/postgres"; then
  echo "== storage tests on plain PostgreSQL ($PLAIN_URL)"
  DATABASE_URL="$PLAIN_URL" $PY -m pytest -m storage "$@"
else
  echo "== storage tests on plain PostgreSQL: SKIPPED, nothing answers at $PLAIN_URL" >&2
  [ -z "${CI:-}" ] || { echo "CI needs plain PostgreSQL at $PLAIN_URL" >&2; exit 1; }
fi
