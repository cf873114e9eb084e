"""A Celery worker killed with SIGKILL mid-run: the sweeper hands its shard to another worker.

While the worker lives, its shard's heartbeat thread keeps the shard from looking stale even
when the scoring itself is stuck; once it is dead, the sweep, run at the beat's cadence with
the production staleness, re-sends the shard within 30 s (issue 12).
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from scoring.models import ModelScore, ScoringShard
from scoring.services.runs import runs_sweep
from scoring.tasks import dispatch_run, sweep_runs_task
from tests.scoring.conftest import END, build_history
from tests.scoring.test_batch_scoring import production, wait_for_run

pytestmark = [pytest.mark.storage, pytest.mark.live]


def start_worker(tmp_path, name: str, **extra_env: str) -> subprocess.Popen:
    """A real worker process on the test database and the test Redis."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        **extra_env,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "FLEETMON_ARTIFACT_DIR": settings.FLEETMON_ARTIFACT_DIR,
    }
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fleetmon", "worker", "--pool", "solo"]
        + ["--hostname", f"{name}@test", "--loglevel", "INFO", "--without-heartbeat"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(condition, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_loses_no_shard_and_scores_every_device_once(
    scoring_settings, transactional_db, tmp_path
):
    from fleetmon.celery import app

    build_history(devices=40, hours=10)
    production("isolation_forest")
    app.control.purge()
    db = settings.DATABASES["default"]
    blocker = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False
    )
    # Hold the scores table so the first shard stalls mid-write, with its heartbeat set.
    blocker.execute("LOCK TABLE model_scores IN ACCESS EXCLUSIVE MODE")
    # A 1 s heartbeat, so the test can watch it beat while the shard is stuck.
    doomed = start_worker(tmp_path, "doomed", FLEETMON_SHARD_HEARTBEAT_SECONDS="1")
    try:
        run_id = dispatch_run(trigger="on_demand", window_end=END, requested_by="test")
        # The claim counts the attempt in the same UPDATE: wait for that counted attempt, so
        # the kill lands on a shard that has started by every measure.
        wait_until(
            lambda: ScoringShard.objects.filter(
                run_id=run_id, status="running", attempts=1
            ).exists(),
            what="a shard to start and count its attempt",
        )
        running = ScoringShard.objects.get(run_id=run_id, status="running")
        first_beat = running.heartbeat_at
        # Stuck on the lock, but alive: the heartbeat goes on, so a sweep with a 3 s
        # staleness leaves the shard alone 4 s after it started.
        wait_until(
            lambda: (
                ScoringShard.objects.get(pk=running.pk).heartbeat_at
                > first_beat + timedelta(seconds=2)
            ),
            timeout=15,
            what="the stuck shard's heartbeat to go on",
        )
        assert running.pk not in runs_sweep(now=timezone.now(), stale_after=timedelta(seconds=3))
        os.killpg(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        # Never leave it behind: a stray worker would take the next tests' tasks.
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        blocker.rollback()
        blocker.close()
    stuck = ScoringShard.objects.get(pk=running.pk)
    assert (stuck.status, stuck.attempts) == ("running", 1)

    survivor = start_worker(tmp_path, "survivor")
    try:
        # What beat does: the sweep task at its schedule, with the production staleness.
        every = settings.CELERY_BEAT_SCHEDULE["sweep-scoring-runs"]["schedule"]
        assert settings.FLEETMON_SHARD_STALE_SECONDS + every <= 30
        resent_after = None
        while resent_after is None and time.monotonic() - killed_at < 40:
            swept = time.monotonic()
            sweep_runs_task()  # sends the stale shards' tasks to the survivor
            # Put back (pending), or already taken again by the survivor (attempt 2).
            if ScoringShard.objects.filter(pk=stuck.pk, status="running", attempts=1).exists():
                time.sleep(max(0.0, every - (time.monotonic() - swept)))
            else:
                resent_after = time.monotonic() - killed_at
        assert resent_after is not None and resent_after <= 30, resent_after
        print(f"\nshard of the killed worker re-sent {resent_after:.1f} s after the kill")  # noqa: T201
        run = wait_for_run(run_id, timeout=90)
    finally:
        survivor.terminate()
        try:
            survivor.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(survivor.pid, signal.SIGKILL)
            survivor.wait(10)

    assert run.status == "succeeded"
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("succeeded", 2)
    # Every shard ran to the end once, except the killed one (twice, counted).
    assert sorted(run.shards.values_list("attempts", flat=True)) == [1] * (
        run.shards.count() - 1
    ) + [2]
    scores = ModelScore.objects.filter(run_id=run_id, model_id="isolation_forest_v1")
    assert scores.count() == scores.values("device_id").distinct().count() == run.devices_scored
    assert run.devices_scored + run.devices_skipped == 40
