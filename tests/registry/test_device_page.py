"""Device API and page: properties, health, open alerts, maintenance, scores, charts and the
threshold editor; scoped (another region: 404) and role-aware (no edit forms for managers)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import MaintenanceEvent
from alerts.threshold_views import CATALOGUE
from alerts.thresholds import threshold_set
from scoring.models import ModelScore
from tests.conftest import register_devices
from tests.registry.console_cast import api_as, cast_of_roles, make_alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return cast_of_roles()


@pytest.fixture
def west(db):
    device = register_devices(2, region="US-W", site_no=1)[0]
    device.health_status, device.latest_anomaly_score = "critical", 0.91
    device.anomaly_trend, device.dropout_state = "increasing", "FREQUENCY_DEGRADATION"
    device.save()
    return device


def score(device, model_id: str, ago: timedelta, value: float, role: str = "production"):
    end = timezone.now() - ago
    return ModelScore.objects.create(
        model_id=model_id,
        device_id=device.device_id,
        window_start=end - timedelta(minutes=15),
        window_end=end,
        model_version="1.0.0",
        granularity="15min",
        deployment_role=role,
        anomaly_score=value,
        anomaly_flag=value > 0.7,
        threshold_used=0.7,
        scored_at=end,
        sensor_completeness=1.0,
    )


def test_the_device_api_has_properties_health_alerts_maintenance_and_scores(people, west):
    open_alert = make_alert(west, severity="HIGH")
    make_alert(west, rule="x", suppressed=True, suppressed_by=open_alert)
    make_alert(west, rule="y", status="resolved")
    job = MaintenanceEvent.objects.create(
        device=west,
        event_type="corrective",
        scheduled_date=timezone.now() + timedelta(days=1),
        triggered_by_alert=open_alert,
        created_by="operator_a",
        created_at=timezone.now(),
    )
    score(west, "isolation_forest_v3", timedelta(hours=2), 0.5)
    score(west, "isolation_forest_v3", timedelta(hours=1), 0.91)
    score(west, "isolation_forest_v4", timedelta(hours=1), 0.4, role="shadow")

    body = api_as(people["operator_a"]).get(f"/api/v1/devices/{west.device_id}/").json()

    assert (body["device_id"], body["site_id"], body["cohort_id"], body["model"]) == (
        west.device_id,
        west.site_id,
        west.cohort_id,
        "WF-5HP",
    )
    assert (body["health_status"], body["dropout_state"], body["anomaly_trend"]) == (
        "critical",
        "FREQUENCY_DEGRADATION",
        "increasing",
    )
    assert body["latest_anomaly_score"] == 0.91
    # Only what still needs a person: not the suppressed duplicate, not the resolved one.
    assert [a["alert_id"] for a in body["open_alerts"]] == [str(open_alert.alert_id)]
    assert body["open_alerts"][0]["url"] == f"/alerts/{open_alert.alert_id}/"
    assert [m["event_id"] for m in body["maintenance"]] == [str(job.event_id)]
    assert body["maintenance"][0]["triggered_by_alert_id"] == str(open_alert.alert_id)
    latest = {
        (s["model_id"], s["deployment_role"]): s["anomaly_score"] for s in body["latest_scores"]
    }
    assert latest == {
        ("isolation_forest_v3", "production"): 0.91,
        ("isolation_forest_v4", "shadow"): 0.4,
    }


def test_the_score_history_has_one_line_per_model_in_the_range(people, west):
    score(west, "isolation_forest_v3", timedelta(hours=3), 0.2)
    score(west, "isolation_forest_v3", timedelta(hours=2), 0.3)
    score(west, "statistical_baseline_v1", timedelta(hours=2), 0.8)
    score(west, "statistical_baseline_v1", timedelta(days=3), 0.99)  # outside 24 h
    client = api_as(people["manager"])

    day = client.get(f"/api/v1/devices/{west.device_id}/score-chart/?range=24h").json()
    lines = {t["name"]: t["y"] for t in day["figures"][0]["figure"]["data"]}
    assert lines == {"isolation_forest_v3": [0.2, 0.3], "statistical_baseline_v1": [0.8]}

    week = client.get(f"/api/v1/devices/{west.device_id}/score-chart/?range=7d").json()
    lines = {t["name"]: t["y"] for t in week["figures"][0]["figure"]["data"]}
    assert lines["statistical_baseline_v1"] == [0.99, 0.8]
    assert client.get(f"/api/v1/devices/{west.device_id}/score-chart/?range=1y").status_code == 400


def test_the_device_page_shows_charts_alerts_and_the_editor_to_an_operator(client, people, west):
    alert = make_alert(west, severity="CRITICAL", rule="compressor_overload")
    threshold_set(
        parameter="door_open_max_minutes", value=25, device=west, actor="ana", reason="busy"
    )
    client.force_login(people["operator_a"])

    page = client.get(f"/devices/{west.device_id}/").content.decode()

    assert f'data-figures-url="/api/v1/devices/{west.device_id}/history/?range=24h"' in page
    assert 'data-figure-json="score-figure"' in page and 'id="score-figure"' in page
    assert f'href="/alerts/{alert.alert_id}/"' in page
    assert 'id="threshold-table"' in page
    assert len(re.findall(r'<tr data-parameter="', page)) == len(CATALOGUE)
    assert len(re.findall(r'class="threshold-form"', page)) == len(CATALOGUE)
    door_row = page[page.index('<tr data-parameter="door_open_max_minutes"') :]
    door_row = door_row[: door_row.index("</tr>")]
    assert "25 min" in door_row and "source-device" in door_row
    history = page[page.index('id="threshold-history"') :]
    assert "busy" in history and 'class="revert-form"' in history


def test_a_manager_reads_the_device_page_without_edit_forms(client, people, west):
    threshold_set(
        parameter="door_open_max_minutes", value=25, device=west, actor="ana", reason="busy"
    )
    client.force_login(people["manager"])
    page = client.get(f"/devices/{west.device_id}/?range=7d").content.decode()
    assert 'id="threshold-table"' in page
    assert "threshold-form" not in page and "revert-form" not in page
    assert f"/api/v1/devices/{west.device_id}/history/?range=7d" in page


def test_another_region_gets_404_for_the_device_everywhere(client, people, west):
    client.force_login(people["operator_b"])
    assert client.get(f"/devices/{west.device_id}/").status_code == 404
    outsider = api_as(people["operator_b"])
    for path in ("", "score-chart/", "history/", "thresholds/", "thresholds/history/"):
        answer = outsider.get(f"/api/v1/devices/{west.device_id}/{path}")
        assert answer.status_code == 404, path
    assert client.get("/devices/NO-SUCH-DEVICE/").status_code == 404


def test_signed_out_visitors_are_sent_to_log_in(client, west):
    answer = client.get(f"/devices/{west.device_id}/")
    assert answer.status_code == 302 and answer.url.startswith("/accounts/login/")
