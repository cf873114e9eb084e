"""The operations dashboard page and its API: who may see them, and what they show."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from fleetmon.accounts.models import Profile
from fleetmon.accounts.tokens import api_token_create
from fleetmon.registry.models import Device
from monitoring.models import FreshnessCheck, JobRun, SlaMeasurement
from monitoring.monitors import monitor_raise
from monitoring.ops_dashboard import (
    equipment_alerts,
    freshness_heatmap,
    job_health,
    quarantine_volume,
    readings_per_hour,
    sla_table,
)
from quality.ingest import ingest_messages
from tests.alerts.alert_cast import api_as, make_alert
from tests.conftest import message, register_devices

pytestmark = pytest.mark.django_db

PAGE = "/monitoring/ops/"
API = "/api/v1/monitoring/ops/"


@pytest.fixture
def cast(django_user_model):
    """One user per role, like the demo users (no password: they sign in by session)."""
    users = {}
    for name, role, regions in (
        ("operator_a", "operator", ["US-W"]),
        ("ml_engineer", "ml_engineer", []),
        ("manager", "manager", []),
        ("admin", "admin", []),
    ):
        users[name] = django_user_model.objects.create_user(name)
        Profile.objects.create(user=users[name], role=role, regions=regions)
    return users


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # readings per hour caches closed hours per process
    yield
    cache.clear()


@pytest.fixture
def scene(db):
    """A failed job, a monitor alert with its runbook, an SLA measured twice."""
    now = timezone.now()
    JobRun.objects.create(
        task_name="scoring.tasks.refresh_features_task",
        task_id="t1",
        status="failed",
        started_at=now - timedelta(minutes=3),
        finished_at=now - timedelta(minutes=2),
        runtime_seconds=60,
        error="OperationalError: the database went away\nTraceback ...",
    )
    monitor_raise(
        monitor="job_failed",
        layer="infrastructure",
        subject="scoring.tasks.refresh_features_task",
        severity="MEDIUM",
        title="Job refresh_features_task failed",
        runbook="job-failure",
    )
    monitor_raise(
        monitor="sla_breach",
        layer="sla",
        subject="false_positive_rate",
        severity="MEDIUM",
        title="SLA breached: False positive rate",
        runbook="sla-breach",
    )
    for hours, value in ((30, 0.1), (2, 0.25)):
        end = now - timedelta(hours=hours)
        SlaMeasurement.objects.create(
            sla="false_positive_rate",
            measured_at=end,
            window_start=end - timedelta(days=30),
            window_end=end,
            value=value,
            target=0.2,
            met=value < 0.2,
        )
    return now


# ---------------------------------------------------------------- who may see it


@pytest.mark.parametrize("role", ["ml_engineer", "manager", "admin"])
def test_the_page_renders_for_the_ops_audiences(client, cast, scene, role):
    client.force_login(cast[role])

    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-task="scoring.tasks.refresh_features_task" data-state="red"' in html
    assert "the database went away" in html
    assert '<a href="/runbooks/job-failure/">job failure</a>' in html
    assert '<a href="/runbooks/sla-breach/">system SLA breached</a>' in html
    assert 'data-sla="false_positive_rate"' in html and "25.00 %" in html
    assert 'data-figure-json="heatmap-figure"' in html and 'id="readings-figure"' in html
    assert 'id="sla-false_positive_rate"' in html  # the 30-day sparkline's figure


def test_the_page_is_refused_to_an_operator(client, cast):
    client.force_login(cast["operator_a"])

    assert client.get(PAGE).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("role", "status"),
    [("ml_engineer", 200), ("manager", 200), ("admin", 200), ("operator_a", 403), (None, 403)],
)
@pytest.mark.parametrize("url", [API, "/api/v1/monitoring/alerts/", "/api/v1/monitoring/slas/"])
def test_the_api_is_open_to_the_ops_audiences_only(cast, scene, role, status, url):
    response = api_as(cast[role] if role else None).get(url)

    assert response.status_code == status


def test_the_api_takes_a_user_token(cast, scene):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(user=cast['manager'], name='test')[1]}"
    )

    body = client.get(API).json()

    assert body["jobs"][0]["task_name"] == "scoring.tasks.refresh_features_task"
    assert body["jobs"][0]["state"] == "red"
    assert {a["monitor"] for a in body["monitor_alerts"]} == {"job_failed", "sla_breach"}
    assert body["monitor_alerts"][0]["runbook"]["url"].startswith("/runbooks/")
    assert [d["dataset"] for d in body["freshness"]["datasets"]][0] == "raw_sensor_readings"
    assert len(body["readings_per_hour"]) == 48
    assert len(body["freshness_heatmap"]["hours"]) == 24


# ---------------------------------------------------------------- monitor alerts and SLAs API


def test_monitor_alerts_filter_by_layer_and_status(cast, scene):
    client = api_as(cast["ml_engineer"])

    sla_only = client.get("/api/v1/monitoring/alerts/", {"layer": "sla"}).json()
    resolved = client.get("/api/v1/monitoring/alerts/", {"status": "resolved"}).json()

    assert [a["subject"] for a in sla_only["results"]] == ["false_positive_rate"]
    assert sla_only["results"][0]["runbook"] == {
        "slug": "sla-breach",
        "url": "/runbooks/sla-breach/",
        "title": "system SLA breached",
    }
    assert resolved["count"] == 0


def test_bad_filters_answer_400_per_field(cast):
    client = api_as(cast["ml_engineer"])

    alerts = client.get("/api/v1/monitoring/alerts/", {"layer": "equipment", "severity": "x"})
    slas = client.get("/api/v1/monitoring/slas/", {"days": "0"})

    assert alerts.status_code == 400 and set(alerts.json()) == {"layer", "severity"}
    assert slas.status_code == 400 and "days" in slas.json()


def test_slas_api_has_every_sla_with_its_history(cast, scene):
    body = api_as(cast["manager"]).get("/api/v1/monitoring/slas/", {"days": 1}).json()

    by_key = {s["sla"]: s for s in body["slas"]}
    assert set(by_key) == {
        "batch_latency",
        "streaming_latency",
        "scoring_availability",
        "device_coverage",
        "false_positive_rate",
    }
    fp = by_key["false_positive_rate"]
    assert (fp["value"], fp["met"], fp["target_text"]) == (0.25, False, "< 20.00 %")
    assert [p["value"] for p in fp["history"]] == [0.25]  # the 30-hour-old one is outside a day
    assert by_key["batch_latency"]["value_text"] == "not measured"


# ---------------------------------------------------------------- what the widgets count


@pytest.mark.storage
def test_readings_per_hour_and_quarantine_volume():
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    [device] = register_devices(1)
    hour = now.replace(minute=0)
    ingest_messages(
        messages=[
            message(device.device_id, hour - timedelta(hours=2, minutes=-m)) for m in range(3)
        ]
        + [message(device.device_id, now - timedelta(minutes=m + 1)) for m in range(5)]
        + [message("REF-UNKNOWN-1", now - timedelta(minutes=1))],  # quarantined
        received_at=now,
    )

    series = readings_per_hour(now=now)

    counts = {p["hour"]: p["readings"] for p in series}
    assert counts[hour] == 5 and counts[hour - timedelta(hours=2)] == 3
    assert sum(counts.values()) == 8 and series[-1]["hour"] == hour
    volume = quarantine_volume(now=now, readings=series)
    assert volume["quarantined_24h"] == 1 and volume["clean_24h"] == 8
    assert volume["share"] == pytest.approx(1 / 9) and volume["alarm"] is True


def test_equipment_alert_counts_are_active_critical_and_high_only():
    a, b = register_devices(2)
    make_alert(a, severity="CRITICAL")
    make_alert(b, severity="CRITICAL", kind="cooling_loss_total")
    make_alert(a, severity="HIGH", kind="door_open_too_long")
    make_alert(b, severity="CRITICAL", kind="vibration_spike", status="resolved")
    make_alert(a, severity="HIGH", kind="pressure_loss_acute", suppressed=True)
    make_alert(a, severity="MEDIUM", kind="defrost_overdue")

    assert equipment_alerts() == {"CRITICAL": 2, "HIGH": 1}


def test_freshness_heatmap_keeps_the_worst_state_of_each_hour():
    now = timezone.now().replace(minute=40, second=0, microsecond=0)
    hour = now.replace(minute=0)
    for minute, severity in ((5, ""), (10, "MEDIUM"), (20, "LOW")):
        FreshnessCheck.objects.create(
            dataset="model_scores",
            checked_at=hour + timedelta(minutes=minute),
            lateness_seconds=7200 if severity == "MEDIUM" else 0,
            sla_seconds=3600,
            fresh=not severity,
            severity=severity,
        )
    FreshnessCheck.objects.create(
        dataset="model_scores",
        checked_at=hour - timedelta(hours=3),
        sla_seconds=3600,
        fresh=True,
    )

    heatmap = freshness_heatmap(now=now)

    row = next(r for r in heatmap["rows"] if r["dataset"] == "model_scores")
    assert heatmap["hours"][-1] == hour
    assert row["ranks"][-1] == 2 and row["max_lateness_seconds"][-1] == 7200
    assert row["ranks"][-4] == 0 and row["ranks"][-2] is None


def test_job_health_lists_beat_jobs_that_never_ran(settings):
    settings.CELERY_BEAT_SCHEDULE = {"x": {"task": "quality.tasks.detect_dropout_task"}}

    rows = job_health(now=timezone.now())

    assert [(r["task"], r["state"]) for r in rows] == [("detect_dropout_task", "grey")]


def test_dropout_count_is_on_the_page(client, cast):
    devices = register_devices(3)
    Device.objects.filter(pk=devices[0].pk).update(dropout_state="FULL_DROPOUT")
    client.force_login(cast["ml_engineer"])

    html = client.get(PAGE).content.decode()

    assert (
        'id="card-dropout"><h2>Devices in full dropout</h2>\n    <p class="figure ">1</p>' in html
    )


def test_sla_history_is_thinned_to_buckets_that_keep_breaches():
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    # Every 15 minutes for 30 days (2,880 measurements), one breach among them.
    SlaMeasurement.objects.bulk_create(
        SlaMeasurement(
            sla="device_coverage",
            measured_at=now - timedelta(minutes=15 * i),
            window_start=now - timedelta(minutes=15 * i, hours=24),
            window_end=now - timedelta(minutes=15 * i),
            value=0.95 if i == 100 else 1.0,
            target=0.99,
            met=i != 100,
        )
        for i in range(2880)
    )

    [row] = [r for r in sla_table(now=now) if r["sla"] == "device_coverage"]

    assert 235 <= len(row["history"]) <= 241  # 3-hour buckets over 30 days
    assert sum(1 for p in row["history"] if p["met"] is False) == 1
    assert row["history"][-1] == {"at": now, "value": 1.0, "met": True}
