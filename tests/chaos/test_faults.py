"""The chaos suite: each fault under steady ingest from a simulated fleet, with ground truth.

The processes of `make run` run supervised on the test database and a private Redis. Every
case asserts that no reading was lost or stored twice, that every injected compressor
overload raised exactly one alert (and nothing else did), and that the system recovered
within the case's bound. The table is printed at the end of the run.
"""

import os
import signal
import time

import orjson
import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from scoring.models import ScoringRun, ScoringShard
from scoring.services.runs import run_create, run_shard_ids
from tests.chaos.conftest import database_url
from tests.chaos.stack import wait_for
from tests.chaos.verify import (
    REPORT,
    alert_delay,
    await_alerts,
    await_evaluated,
    outcome,
)

# One worker runs the cases in order on one stack, as a person would (xdist --dist loadgroup).
pytestmark = [
    pytest.mark.live,
    pytest.mark.chaos,
    pytest.mark.heavy,
    pytest.mark.xdist_group("chaos"),
]

# Ingest runs this long before each fault, so the rules know every device first.
WARM_UP = 3.0


def settle(fleet, *, alerts_within: float) -> None:
    await_alerts(fleet, timeout=alerts_within)
    fleet.stop()
    await_evaluated(fleet, timeout=30)


def check(result) -> None:
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.alerted_once == result.faults and result.other_alerts == 0, result
    assert result.recovery <= result.bound, result


def test_a_killed_web_worker_loses_no_reading(stack, fleet_factory):
    fleet = fleet_factory()
    time.sleep(WARM_UP)
    fleet.inject()
    victim = stack.children("web")[0]
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    fleet.inject()
    wait_for(
        lambda: (
            len(stack.children("web")) == stack.web_workers and victim not in stack.children("web")
        ),
        timeout=15,
        what="uvicorn to replace its worker",
    )
    time.sleep(2)
    fleet.inject()
    settle(fleet, alerts_within=20)
    recovery = max(fleet.ingest_outage(killed), alert_delay(fleet, after=killed))
    check(outcome(fleet, case="kill -9 a web worker", recovery=recovery, bound=10))


def test_a_killed_rules_worker_is_restarted_and_alerts_what_it_missed(stack, fleet_factory):
    fleet = fleet_factory()
    time.sleep(WARM_UP)
    before = stack.restarts("rules")
    killed = time.monotonic()
    stack.kill("rules")
    fleet.inject()  # while it is dead and while it starts again
    time.sleep(1)
    fleet.inject()
    settle(fleet, alerts_within=30)
    assert stack.restarts("rules") == before + 1
    recovery = alert_delay(fleet, after=killed)
    check(outcome(fleet, case="kill -9 the rules worker", recovery=recovery, bound=15))


@pytest.fixture
def broker(stack):
    """A Celery client of the stack's (private) broker."""
    # Not the current app: the suite's shared tasks must keep the test broker after this.
    app = Celery("chaos", broker=stack.env["REDIS_URL"], set_as_current=False)
    yield app
    app.close()


def test_a_killed_celery_worker_has_its_shard_sent_again_within_30_s(
    stack, fleet_factory, broker, settings
):
    settings.FLEETMON_ARTIFACT_DIR = stack.env["FLEETMON_ARTIFACT_DIR"]
    fleet = fleet_factory()
    time.sleep(WARM_UP)
    run = run_create(
        trigger="on_demand",
        window_end=timezone.now().replace(second=0, microsecond=0),
        requested_by="chaos",
        kinds=("rules_fallback",),
    )
    (shard_id,) = run_shard_ids(run)
    # Hold the scores table so the shard stalls mid-write, with its heartbeat beating.
    blocker = psycopg.connect(database_url(), autocommit=False)
    try:
        blocker.execute("LOCK TABLE model_scores IN ACCESS EXCLUSIVE MODE")
        broker.send_task("scoring.tasks.score_shard_task", args=[shard_id])
        wait_for(
            lambda: ScoringShard.objects.filter(pk=shard_id, status="running", attempts=1).exists(),
            timeout=20,
            what="the shard to start",
        )
        before = stack.restarts("worker")
        killed = time.monotonic()
        stack.kill("worker")
        fleet.inject()
    finally:
        blocker.rollback()
        blocker.close()
    wait_for(
        lambda: ScoringShard.objects.filter(pk=shard_id, attempts=2).exists(),
        timeout=45,
        what="the sweeper to send the shard again",
    )
    resent = time.monotonic() - killed
    wait_for(
        lambda: ScoringRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists(),
        timeout=30,
        what="the run to finish",
    )
    finished = time.monotonic() - killed
    fleet.inject()
    settle(fleet, alerts_within=20)
    assert stack.restarts("worker") == before + 1
    assert ScoringRun.objects.get(pk=run.pk).status == "succeeded"
    REPORT.append(
        f"Celery worker killed mid-shard: shard sent again after {resent:.1f} s,"
        f" run finished after {finished:.1f} s"
    )
    check(outcome(fleet, case="kill -9 the Celery worker", recovery=resent, bound=30))


def test_a_60_second_redis_outage_loses_no_alert(stack, chaos_redis, fleet_factory, broker):
    fleet = fleet_factory()
    time.sleep(WARM_UP)
    restarts = {name: stack.restarts(name) for name in stack.commands()}
    chaos_redis.stop()
    down = time.monotonic()
    fleet.inject()
    time.sleep(20)
    fleet.inject()
    time.sleep(35)
    # An overload that starts in the outage and goes on after it (the case).
    fleet.inject(readings=40)
    time.sleep(60 - (time.monotonic() - down))
    chaos_redis.start()
    back = time.monotonic()
    fleet.inject()
    settle(fleet, alerts_within=30)
    recovery = max(alert_delay(fleet, after=back), fleet.ingest_outage(down))
    # Every process lived through it, and Celery serves tasks again.
    assert {name: stack.restarts(name) for name in stack.commands()} == restarts
    done = stack.log("worker").count(" succeeded in ")
    broker.send_task("alerts.tasks.site_offline_check_task")
    wait_for(
        lambda: stack.log("worker").count(" succeeded in ") > done,
        timeout=30,
        what="the Celery worker to run a task after the outage",
    )
    check(outcome(fleet, case="Redis down 60 s", recovery=recovery, bound=15))


def test_every_database_backend_terminated_loses_nothing(stack, fleet_factory):
    fleet = fleet_factory()
    time.sleep(WARM_UP)
    restarts = {name: stack.restarts(name) for name in stack.commands()}
    fleet.inject()
    connection.ensure_connection()
    ours = connection.connection.info.backend_pid
    with psycopg.connect(database_url(), autocommit=True) as admin:
        terminated = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND pid <> %s",
            [settings.DATABASES["default"]["NAME"], ours],
        ).fetchone()[0]
    cut = time.monotonic()
    fleet.inject()
    time.sleep(1)
    fleet.inject()
    settle(fleet, alerts_within=20)
    assert terminated >= 3
    assert {name: stack.restarts(name) for name in stack.commands()} == restarts
    recovery = max(fleet.ingest_outage(cut), alert_delay(fleet, after=cut))
    REPORT.append(f"pg_terminate_backend: {terminated} backends of the stack terminated")
    check(outcome(fleet, case="every DB backend terminated", recovery=recovery, bound=10))


def test_every_process_stops_within_10_s_of_sigterm(stack, fleet_factory, session, settings):
    """Under ingest, with a websocket open (which used to hold a uvicorn worker) and a
    Celery task stuck mid-shard, which goes back to the queue."""
    import redis
    from websockets.sync.client import connect

    settings.FLEETMON_ARTIFACT_DIR = stack.env["FLEETMON_ARTIFACT_DIR"]
    fleet = fleet_factory()
    time.sleep(1)
    run = run_create(
        trigger="on_demand",
        window_end=timezone.now().replace(second=0, microsecond=0),
        requested_by="chaos",
        kinds=("rules_fallback",),
    )
    (shard_id,) = run_shard_ids(run)
    url = stack.base_url.replace("http", "ws") + "/ws/alerts/"
    headers = {"Origin": stack.base_url, "Cookie": f"sessionid={session}"}
    socket = connect(url, additional_headers=headers)
    blocker = psycopg.connect(database_url(), autocommit=False)
    broker = Celery("chaos", broker=stack.env["REDIS_URL"], set_as_current=False)
    try:
        blocker.execute("LOCK TABLE model_scores IN ACCESS EXCLUSIVE MODE")
        broker.send_task("scoring.tasks.score_shard_task", args=[shard_id])
        wait_for(
            lambda: ScoringShard.objects.filter(pk=shard_id, status="running").exists(),
            timeout=20,
            what="the shard to start",
        )
        took = stack.stop()
    finally:
        blocker.rollback()
        blocker.close()
        broker.close()
        socket.close()
        fleet._stop.set()
    # What the supervisor logged from the SIGTERM on (earlier cases killed with SIGKILL).
    log = (stack.folder / "supervise.log").read_text().split("SIGTERM: stopping")[-1]
    stops = [line.split("supervise: ")[1] for line in log.splitlines() if "stopped in" in line]
    REPORT.append(f"SIGTERM: {'; '.join(stops)} (all: {took:.1f} s)")
    assert len(stops) == len(stack.commands()) + 1, log  # each process, then the supervisor
    assert "SIGKILL" not in log, log
    assert took < 10, stops

    # The worker gave the task back (acks_late): it waits in the queue for the next worker,
    # or, when the restore on shutdown lost the race with a loaded machine, in kombu's
    # unacknowledged store, which the next worker puts back after the visibility timeout.
    store = redis.Redis.from_url(stack.env["REDIS_URL"])
    waiting = store.lrange("celery", 0, -1)
    unacked = [orjson.loads(m)[0] for m in store.hvals("unacked")]
    queued = [orjson.loads(m)["headers"] for m in waiting] + [m["headers"] for m in unacked]
    # (An earlier case's killed worker may have left its own shard's message there too.)
    ours = [h for h in queued if h["argsrepr"] == f"[{shard_id}]"]
    if not ours and not store.exists("_kombu.binding.celery"):
        # KNOWN GAP: after the Redis outage case, Redis (which keeps nothing on disk) has
        # lost kombu's queue bindings, and the worker's restore on shutdown finds no queue
        # for the message and drops it. The shard is not lost: the sweep re-sends a stale
        # shard (test_a_killed_celery_worker_has_its_shard_sent_again_within_30_s).
        pytest.xfail("restore after a Redis restart dropped the message: bindings lost")
    assert len(ours) == 1, (queued, sorted(store.keys()))
