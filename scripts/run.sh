#!/usr/bin/env bash
# Start FleetMon on this machine: services, schema, demo fleet with history, then the web
# server, a Celery worker, beat and a live simulated fleet. Ctrl-C stops them all.
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

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

.venv/bin/uvicorn fleetmon.asgi:application --host 127.0.0.1 --port "$PORT" \
  --workers "${WEB_CONCURRENCY:-4}" --no-access-log --lifespan off >var/log/web.log 2>&1 &
pids+=($!)
.venv/bin/celery -A fleetmon worker --loglevel INFO --concurrency 2 >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A fleetmon beat --loglevel INFO --schedule var/celerybeat-schedule \
  >var/log/beat.log 2>&1 &
pids+=($!)
$PY manage.py run_streaming_rules --name rules-1 >var/log/streaming.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "$SITE_ROOT/api/schema/" && break; sleep 0.2; done
$PY manage.py simulate_fleet live --devices "$DEVICES" --token "$TOKEN" >var/log/live.log 2>&1 &
pids+=($!)
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
  logs:          var/log/{web,worker,beat,streaming,live,backfill,bootstrap}.log
Ctrl-C stops everything.
INFO
wait -n "${pids[@]}"
echo "a FleetMon process exited; see var/log/" >&2
exit 1
