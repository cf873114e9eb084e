"""Infrastructure monitors at and around their thresholds (domain §5.1), raised and cleared
through monitor alerts with their runbooks."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from monitoring.infra import checks
from monitoring.infra.service import MONITORS, infra_check
from monitoring.models import JobRun, MonitorAlert
from scoring.models import ScoringRun

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
TASK = "scoring.tasks.refresh_features_task"


def job(task=TASK, *, ago, status="succeeded", runtime=10.0, rows=None, **fields) -> JobRun:
    started = NOW - ago
    return JobRun.objects.create(
        task_name=task,
        task_id=f"{task}-{started.timestamp()}",
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=runtime) if status != "started" else None,
        runtime_seconds=runtime if status != "started" else None,
        rows=rows,
        worker=fields.pop("worker", "celery@a"),
        **fields,
    )


def check(*, answering=("celery@a",), depths=None):
    return infra_check(now=NOW, ping=lambda: set(answering), depths=lambda: depths or {})


def open_alert(monitor: str, subject: str = TASK) -> MonitorAlert | None:
    return MonitorAlert.objects.filter(monitor=monitor, subject=subject, status="open").first()


@pytest.fixture(autouse=True)
def beat_alive():
    """A beat-sent run a minute ago, so the beat heartbeat passes unless a test says not."""
    return job("scoring.tasks.sweep_runs_task", ago=timedelta(minutes=1), beat=True, rows=0)


# ---------------------------------------------------------------- job runs


def test_a_failed_run_raises_job_failed_and_the_next_success_clears_it():
    job(ago=timedelta(minutes=20), rows=10)
    job(ago=timedelta(minutes=5), status="failed", error="OperationalError: connection lost")

    check()

    alert = open_alert("job_failed")
    assert (alert.severity, alert.layer, alert.runbook) == (
        "MEDIUM",
        "infrastructure",
        "job-failure",
    )
    assert "connection lost" in alert.description

    job(ago=timedelta(minutes=1), rows=10)
    check()

    assert open_alert("job_failed") is None
    assert MonitorAlert.objects.get(monitor="job_failed").status == "resolved"


@pytest.mark.parametrize(
    ("latest", "fires"),
    [(20.0, False), (20.001, True)],  # exactly 2x the median is not "> 2x"
)
def test_runtime_above_twice_the_median_of_previous_successes(latest, fires):
    for minutes, runtime in zip(range(60, 10, -10), (8.0, 10.0, 10.0, 12.0, 30.0), strict=True):
        job(ago=timedelta(minutes=minutes), runtime=runtime, rows=1)
    job(ago=timedelta(minutes=5), status="failed", runtime=99.0)  # failures do not count
    job(ago=timedelta(minutes=1), runtime=latest, rows=1)

    check()

    alert = open_alert("job_slow")
    assert (alert is not None) == fires
    if fires:
        assert alert.severity == "LOW" and alert.runbook == "job-runtime"
        assert alert.evidence["median_seconds"] == 10.0


def test_runtime_is_not_judged_before_five_successful_runs():
    for minutes in (50, 40, 30, 20):
        job(ago=timedelta(minutes=minutes), runtime=1.0, rows=1)
    job(ago=timedelta(minutes=1), runtime=100.0, rows=1)

    check()

    assert open_alert("job_slow") is None


@pytest.mark.parametrize(("delay", "fires"), [(15 * 60, False), (15 * 60 + 1, True)])
def test_schedule_delay_above_fifteen_minutes(delay, fires):
    job(ago=timedelta(minutes=1), beat=True, delay_seconds=delay, rows=1)

    check()

    alert = open_alert("job_delayed")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "job-schedule-delay" and alert.evidence["delay_seconds"] == delay


@pytest.mark.parametrize(
    ("task", "rows", "fires"),
    [
        (TASK, 0, True),
        (TASK, 1, False),
        (TASK, None, False),  # the task reported no count
        ("alerts.tasks.auto_escalate_task", 0, False),  # nothing is expected of it
    ],
)
def test_zero_rows_where_rows_are_always_expected(task, rows, fires):
    job(task, ago=timedelta(minutes=1), rows=rows)

    check()

    alert = open_alert("job_zero_rows", task)
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "job-zero-rows"


def test_a_job_that_stopped_running_has_its_alerts_cleared():
    job(ago=timedelta(days=8), status="failed", error="boom")
    check()  # outside the 7-day look-back: nothing to judge
    assert open_alert("job_failed") is None

    job(ago=timedelta(minutes=1), status="failed", error="boom")
    check()
    assert open_alert("job_failed") is not None
    JobRun.objects.filter(task_name=TASK).update(started_at=NOW - timedelta(days=8))
    check()
    assert open_alert("job_failed") is None


def test_old_job_runs_are_pruned():
    job(ago=timedelta(days=31), rows=1)
    kept = job(ago=timedelta(days=29), rows=1)

    totals = check()

    assert totals["pruned"] == 1
    assert JobRun.objects.filter(task_name=TASK).get() == kept


# ---------------------------------------------------------------- scoring latency, throughput


def scoring_run(*, latency, devices=1000, seconds=30.0, trigger="hourly") -> ScoringRun:
    finished = NOW - timedelta(minutes=5)
    return ScoringRun.objects.create(
        trigger=trigger,
        window_minutes=15,
        window_end=finished - latency,
        status="succeeded",
        started_at=finished - timedelta(seconds=seconds),
        finished_at=finished,
        devices_scored=devices,
    )


@pytest.mark.parametrize(
    ("slow", "fires"),
    [
        (0, False),
        (1, False),  # one slow run in 20 is above the 95th percentile
        (2, True),  # two are the 95th percentile (nearest rank 19 of 20)
    ],
)
def test_hourly_scoring_latency_p95_above_thirty_minutes(slow, fires):
    for i in range(20):
        over = i < slow
        scoring_run(latency=timedelta(minutes=30, seconds=1) if over else timedelta(minutes=30))

    check()

    alert = open_alert("scoring_latency", "hourly")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "scoring-performance"
        assert alert.evidence["p95_seconds"] == 30 * 60 + 1


@pytest.mark.parametrize(
    ("devices", "seconds", "fires"),
    [
        (2000, 60.0, False),  # exactly 2,000 devices/min
        (1999, 60.0, True),
        (100, 59.0, False),  # under a minute: not judged
    ],
)
def test_scoring_throughput_below_two_thousand_devices_a_minute(devices, seconds, fires):
    scoring_run(latency=timedelta(minutes=3), devices=devices, seconds=seconds)

    check()

    assert (open_alert("scoring_throughput", "batch") is not None) == fires


# ---------------------------------------------------------------- heartbeats and queues


def test_a_silent_worker_is_raised_and_cleared_when_it_answers_again():
    job(ago=timedelta(minutes=3), rows=1, worker="celery@b")

    check(answering={"celery@a"})
    alert = open_alert("worker_heartbeat", "celery@b")
    assert (alert.severity, alert.runbook) == ("MEDIUM", "celery-heartbeat")
    assert open_alert("worker_heartbeat", "workers") is None

    check(answering={"celery@a", "celery@b"})
    assert open_alert("worker_heartbeat", "celery@b") is None


def test_no_worker_answering_pages():
    check(answering=())

    assert open_alert("worker_heartbeat", "workers").severity == "HIGH"
    assert open_alert("worker_heartbeat", "celery@a") is None  # one alert, not one per worker


@pytest.mark.parametrize(("age", "fires"), [(180, False), (181, True)])
def test_beat_heartbeat_missing(beat_alive, age, fires):
    JobRun.objects.filter(pk=beat_alive.pk).update(started_at=NOW - timedelta(seconds=age))

    check()

    alert = open_alert("beat_heartbeat", "beat")
    assert (alert is not None) == fires
    if fires:
        assert alert.severity == "HIGH"


def test_beat_never_seen_is_missing(beat_alive):
    beat_alive.delete()

    check()

    assert "never" in open_alert("beat_heartbeat", "beat").description


@pytest.mark.parametrize(("limit", "fires"), [(3, False), (2, True)])
def test_queue_depth_read_from_the_broker(settings, limit, fires):
    queue = "fleetmon-test-h6-queue"
    settings.FLEETMON_MONITOR_QUEUES = (queue,)
    settings.FLEETMON_QUEUE_DEPTH_MAX = limit
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete(queue)
    broker.rpush(queue, "a", "b", "c")
    try:
        infra_check(now=NOW, ping=lambda: {"celery@a"})
    finally:
        broker.delete(queue)

    alert = open_alert("queue_depth", queue)
    assert (alert is not None) == fires
    if fires:
        assert alert.evidence == {"depth": 3, "limit": 2} and alert.runbook == "queue-backlog"


# ---------------------------------------------------------------- the pieces


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert [checks.percentile(values, q) for q in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert checks.percentile([7.0], 95) == 7.0
    assert checks.percentile([], 95) is None


def test_every_monitor_links_a_runbook_that_exists():
    for monitor, (_, slug) in MONITORS.items():
        path = django_settings.BASE_DIR / "docs" / "runbooks" / f"{slug}.md"
        assert path.is_file(), f"{monitor}: no runbook {slug}"
        assert path.read_text().startswith("# Runbook:")


@pytest.mark.parametrize(
    ("worker", "answering", "fires"),
    [
        ("celery@vm", {"celery@vm"}, False),
        ("vm", {"celery@vm"}, False),  # a task recorded under the bare host name
        ("celery@vm", {"vm"}, False),
        ("w2@vm", {"w1@vm"}, True),  # two nodes on one host are two workers
        ("vm", {"celery@other"}, True),
    ],
)
def test_worker_names_match_by_node_or_bare_host(worker, answering, fires):
    results = checks.worker_heartbeats({worker: NOW}, answering)

    assert (results[worker] is not None) == fires
