"""Job runs recorded from Celery signals: status, runtime, rows, beat delay (domain §5.1)."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery import shared_task
from celery.schedules import crontab
from django.conf import settings

from monitoring import jobs
from monitoring.models import JobRun
from quality.tasks import detect_dropout_task
from scoring.tasks import sweep_runs_task
from tests.conftest import register_devices

UTC_ZONE = ZoneInfo("UTC")


@shared_task(bind=True, name="tests.monitoring.flaky_once", max_retries=2)
def flaky_once(self):
    """Fails its first try with a retry, then returns a row count."""
    if self.request.retries == 0:
        raise self.retry(countdown=0, exc=RuntimeError("first try fails"))
    return {"rows": 7}


def finished(task_id: str, *, count: int = 1) -> list[JobRun]:
    """The task's runs once `count` of them are closed: the worker closes a run in
    task_postrun, which Celery sends after the result the test waited for is stored."""
    deadline = time.monotonic() + 10
    while True:
        runs = list(JobRun.objects.filter(task_id=task_id).order_by("started_at"))
        if sum(r.finished_at is not None for r in runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.05)


@pytest.fixture
def recording():
    jobs.connect()
    yield
    jobs.disconnect()


# ---------------------------------------------------------------- through a real worker


@pytest.mark.live
def test_a_succeeded_task_is_recorded_with_its_runtime_and_rows(recording, celery_worker):
    register_devices(3)

    result = detect_dropout_task.delay()
    result.get(timeout=60)

    [run] = finished(result.id)
    assert run.task_name == "quality.tasks.detect_dropout_task"
    assert run.status == "succeeded"
    assert run.finished_at >= run.started_at
    assert run.runtime_seconds == pytest.approx((run.finished_at - run.started_at).total_seconds())
    assert run.rows == 3  # three devices classified: the sum of the per-state counts
    assert run.worker  # the worker's name
    assert (run.beat, run.scheduled_for, run.delay_seconds, run.error) == (False, None, None, "")


@pytest.mark.live
def test_a_failed_task_is_recorded_with_its_error(recording, celery_worker):
    result = detect_dropout_task.delay("not a time")
    with pytest.raises(ValueError):
        result.get(timeout=60)

    [run] = finished(result.id)
    assert run.status == "failed"
    assert run.error.startswith("ValueError: Invalid isoformat string: 'not a time'")
    assert "Traceback" in run.error
    assert run.finished_at is not None and run.rows is None


@pytest.mark.live
def test_a_retried_task_leaves_one_row_per_execution(recording, celery_worker):
    result = flaky_once.delay()
    assert result.get(timeout=60) == {"rows": 7}

    first, second = finished(result.id, count=2)
    assert (first.status, first.retries) == ("retried", 0)
    assert "first try fails" in first.error
    assert (second.status, second.retries, second.rows) == ("succeeded", 1, 7)


@pytest.mark.live
def test_a_beat_sent_crontab_task_records_its_due_time_and_delay(recording, celery_worker):
    result = detect_dropout_task.apply_async(headers={"celery_beat_task": True})
    result.get(timeout=60)

    [run] = finished(result.id)
    # The beat entry "detect-dropout-hourly" fires at minute 5 of every hour.
    due = run.started_at.replace(minute=5, second=0, microsecond=0)
    if run.started_at.minute < 5:
        due -= timedelta(hours=1)
    assert run.beat is True
    assert run.scheduled_for == due
    assert run.delay_seconds == pytest.approx((run.started_at - due).total_seconds())


@pytest.mark.live
def test_a_beat_sent_interval_task_is_due_an_interval_after_the_previous_run(
    recording, celery_worker
):
    first = sweep_runs_task.apply_async(headers={"celery_beat_task": True})
    first.get(timeout=60)
    second = sweep_runs_task.apply_async(headers={"celery_beat_task": True})
    second.get(timeout=60)

    [before], [after] = finished(first.id), finished(second.id)
    assert before.scheduled_for is None  # no previous run to count the interval from
    interval = settings.CELERY_BEAT_SCHEDULE["sweep-scoring-runs"]["schedule"]
    assert after.scheduled_for == before.started_at + timedelta(seconds=interval)
    assert after.delay_seconds == 0  # started early: beat's clock is not ours; clipped


# ---------------------------------------------------------------- the conventions


@pytest.mark.parametrize(
    ("result", "rows"),
    [
        (12, 12),
        (0, 0),
        ({"rows": 5, "metrics": 9}, 5),
        ({"written": 4}, 4),
        ({"metrics": 45, "window_end": "2026-01-01T00:00:00"}, 45),
        ({15: 100, 60: 25}, 125),  # refresh_features_task: rows per window length
        ({"created": 2, "suppressed": 1, "resolved": 0}, 3),
        ({}, None),
        ({"window_end": "x", "fleet_suspect": False}, None),
        ([101, 102], 2),  # scheduled_scoring_task: the runs it dispatched
        ([], 0),
        (None, None),
        (True, None),
        ("isolation_forest_v3", None),
    ],
)
def test_rows_convention(result, rows):
    assert jobs.rows_from_result(result) == rows


@pytest.mark.parametrize(
    ("cron", "at", "due"),
    [
        (crontab(minute=2), datetime(2026, 3, 4, 10, 1, 59, tzinfo=UTC), (3, 4, 9, 2)),
        (crontab(minute=2), datetime(2026, 3, 4, 10, 2, 0, tzinfo=UTC), (3, 4, 10, 2)),
        (crontab(minute=2), datetime(2026, 3, 4, 10, 2, 59, tzinfo=UTC), (3, 4, 10, 2)),
        (crontab(minute="1,16,31,46"), datetime(2026, 3, 4, 0, 0, tzinfo=UTC), (3, 3, 23, 46)),
        (crontab(hour=3, minute=10), datetime(2026, 3, 4, 3, 9, tzinfo=UTC), (3, 3, 3, 10)),
        (crontab(hour=3, minute=10), datetime(2026, 3, 1, 0, 5, tzinfo=UTC), (2, 28, 3, 10)),
        # Mondays at 06:00; 2026-03-04 is a Wednesday.
        (
            crontab(hour=6, minute=0, day_of_week=1),
            datetime(2026, 3, 4, 12, tzinfo=UTC),
            (3, 2, 6, 0),
        ),
    ],
)
def test_last_due_walks_back_to_the_last_firing(cron, at, due):
    month, day, hour, minute = due
    assert jobs.last_due(cron, at, UTC_ZONE) == datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_last_due_in_the_celery_timezone():
    # 03:10 in New York (EST, UTC-5) is 08:10 UTC.
    at = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert jobs.last_due(crontab(hour=3, minute=10), at, ZoneInfo("America/New_York")) == (
        datetime(2026, 1, 15, 8, 10, tzinfo=UTC)
    )


def test_due_times_lists_every_firing_in_the_range():
    start = datetime(2026, 3, 4, tzinfo=UTC)
    dues = jobs.due_times(crontab(minute="1,16,31,46"), start, start + timedelta(days=1), UTC_ZONE)
    assert len(dues) == 96
    assert (dues[0], dues[-1]) == (
        start + timedelta(minutes=1),
        start + timedelta(hours=23, minutes=46),
    )


def test_the_beat_entry_is_told_apart_by_its_args(settings):
    at = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)

    def due(args):
        return jobs.scheduled_for(
            task_name="scoring.tasks.scheduled_scoring_task",
            args=args,
            kwargs={},
            started_at=at,
            previous_start=None,
        )

    assert due(["hourly"]) == datetime(2026, 3, 4, 3, 2, tzinfo=UTC)
    assert due(["daily"]) == datetime(2026, 3, 4, 3, 10, tzinfo=UTC)
    assert due(["weekly"]) is None  # no such entry: no delay


@pytest.mark.live
def test_the_monitor_task_runs_on_a_worker_and_pings_the_workers(recording, celery_worker):
    from monitoring.models import MonitorAlert
    from monitoring.tasks import infra_monitor_task

    result = infra_monitor_task.delay()
    totals = result.get(timeout=60)

    [run] = finished(result.id)
    assert run.status == "succeeded" and run.rows == totals["rows"] > 0
    open_alerts = dict(MonitorAlert.objects.filter(status="open").values_list("monitor", "subject"))
    # The worker that ran the check answers for itself; no task was ever sent by beat.
    assert "worker_heartbeat" not in open_alerts
    assert open_alerts["beat_heartbeat"] == "beat"
