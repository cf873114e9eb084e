#!/usr/bin/env bash
# Start FleetMon on this machine: services, schema, demo fleet with history, then the web
# server, a Celery worker, beat, the streaming rules and a live simulated fleet, supervised
# (a process that dies is restarted). Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
set -a; eval "$(scripts/services.sh)"; set +a
PY=.venv/bin/python
PORT="${PORT:-8000}"
DEVICES="${FLEETMON_SIM_DEVICES:-1000}"
DAYS="${FLEETMON_BACKFILL_DAYS:-2}"
export SITE_ROOT="http://127.0.0.1:$PORT"
mkdir -p var/log

$PY manage.py migrate --no-input
$PY manage.py seed_demo >/dev/null
echo "Backfilling $DAYS day(s) of history for $DEVICES simulated devices (resumes if already there)..."
$PY manage.py simulate_fleet backfill --devices "$DEVICES" --days "$DAYS" >var/log/backfill.log
echo "Training the first model versions (features, regression set, canary-free first deploy)..."
# A kind that is not deployed does not stop the demo: the others score, the rules fallback
# covers the rest. Say which and why (the table's rows), then go on.
if ! $PY manage.py bootstrap_models --days "$DAYS" >var/log/bootstrap.log 2>&1; then
  echo "Not every model kind was deployed (details in var/log/bootstrap.log):" >&2
  grep -E '^[a-z_]+ +not deployed ' var/log/bootstrap.log >&2 || tail -n 3 var/log/bootstrap.log >&2
fi
TOKEN=$($PY manage.py create_ingest_token demo-live --replace)

# Every process runs under scripts/supervise.py: one that exits is logged
# (var/log/supervise.log) and started again with backoff, the others go on. Ctrl-C stops
# them all within 10 s. Each names itself in pg_stat_activity and keeps to its database
# connection budget (README "Running in production": sizing).
.venv/bin/python scripts/supervise.py --log-dir var/log \
  web="env DB_APPLICATION_NAME=fleetmon-web .venv/bin/uvicorn fleetmon.asgi:application \
    --host 127.0.0.1 --port $PORT --workers ${WEB_CONCURRENCY:-4} --no-access-log \
    --lifespan off --timeout-graceful-shutdown 5" \
  worker="env DB_APPLICATION_NAME=fleetmon-worker DB_POOL_MAX_SIZE=2 REMAP_SIGTERM=SIGQUIT \
    .venv/bin/celery -A fleetmon worker --loglevel INFO --concurrency 2" \
  beat="env DB_APPLICATION_NAME=fleetmon-beat DB_POOL_MAX_SIZE=1 .venv/bin/celery -A fleetmon \
    beat --loglevel INFO --schedule var/celerybeat-schedule" \
  streaming="env DB_APPLICATION_NAME=fleetmon-rules DB_POOL_MAX_SIZE=2 \
    $PY manage.py run_streaming_rules --name rules-1" \
  live="env DB_APPLICATION_NAME=fleetmon-live DB_POOL_MAX_SIZE=1 \
    $PY manage.py simulate_fleet live --devices $DEVICES --token $TOKEN" \
  2>>var/log/supervise.log &
supervisor=$!
trap 'kill -TERM $supervisor 2>/dev/null; wait $supervisor' EXIT INT TERM
for _ in $(seq 50); do curl -fs -o /dev/null "$SITE_ROOT/accounts/login/" && break; sleep 0.2; done
# Hourly jobs run on beat; run the dropout job and a scoring run once now for a fresh start.
$PY manage.py shell -c "from quality.tasks import detect_dropout_task; detect_dropout_task.delay()"
$PY manage.py score_now --no-wait >/dev/null

cat <<INFO

FleetMon is running at $SITE_ROOT/
  log in:        password ${FLEETMON_DEMO_PASSWORD:-fleetmon-demo} for each demo user:
                   operator_a (operator, US-W), operator_b (operator, US-E),
                   ml_engineer, manager, admin (Django admin at $SITE_ROOT/admin/)
  API docs:      $SITE_ROOT/api/docs/
  ingest token:  $TOKEN
  try:           curl -X POST -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \\
                   -d '[{"device_id":"REF-TEST-00001","timestamp":"$(date -u +%FT%TZ)","readings":{"humidity":40}}]' \\
                   $SITE_ROOT/api/v1/ingest/
  logs:          var/log/{web,worker,beat,streaming,live,backfill,bootstrap}.log, and
                 var/log/supervise.log (starts, exits and restarts)
Ctrl-C stops everything.
INFO
wait $supervisor
