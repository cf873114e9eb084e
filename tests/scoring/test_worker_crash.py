"""A Celery worker killed with SIGKILL mid-run: the sweeper hands its shard to another worker."""

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
from scoring.tasks import dispatch_run, score_shard_task
from tests.scoring.conftest import END, build_history
from tests.scoring.test_batch_scoring import production, wait_for_run

pytestmark = [pytest.mark.storage, pytest.mark.live]


def start_worker(tmp_path, name: str) -> subprocess.Popen:
    """A real worker process on the test database and the test Redis."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
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
    doomed = start_worker(tmp_path, "doomed")
    try:
        run_id = dispatch_run(trigger="on_demand", window_end=END, requested_by="test")
        wait_until(
            lambda: ScoringShard.objects.filter(run_id=run_id, status="running").exists(),
            what="a shard to start",
        )
        os.killpg(doomed.pid, signal.SIGKILL)
    finally:
        # Never leave it behind: a stray worker would take the next tests' tasks.
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        blocker.rollback()
        blocker.close()
    stuck = ScoringShard.objects.get(run_id=run_id, status="running")

    survivor = start_worker(tmp_path, "survivor")
    try:
        # What the beat sweeper does every 30 s, with the 2-minute staleness shortened.
        stale = runs_sweep(now=timezone.now() + timedelta(seconds=1), stale_after=timedelta(0))
        assert stuck.pk in stale
        for shard_id in stale:
            score_shard_task.delay(shard_id)
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
    scores = ModelScore.objects.filter(run_id=run_id, model_id="isolation_forest_v1")
    assert scores.count() == scores.values("device_id").distinct().count() == run.devices_scored
    assert run.devices_scored + run.devices_skipped == 40
