"""Management overview on crafted alerts, events and maintenance: devices monitored, alerts
by severity week over week, SLA compliance at and around the deadline, mean time to
maintenance after HIGH alerts; only managers, ML engineers and admins see it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, DeviceAlert, MaintenanceEvent
from fleetmon.registry.models import Device
from fleetmon.registry.overview import (
    alerts_per_week,
    devices_monitored,
    sla_compliance,
    time_to_maintenance,
    week_over_week,
)
from tests.conftest import register_devices
from tests.registry.console_cast import api_as, cast_of_roles, make_alert

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def device(db):
    return register_devices(1)[0]


def answered(alert, kind: str, at: datetime) -> None:
    AlertEvent.objects.create(alert=alert, kind=kind, actor="operator_a", at=at)


def maintenance(alert, created: datetime) -> MaintenanceEvent:
    return MaintenanceEvent.objects.create(
        device=alert.device,
        event_type="corrective",
        scheduled_date=created + timedelta(days=1),
        triggered_by_alert=alert,
        created_by="operator_a",
        created_at=created,
    )


def test_devices_monitored_counts_active_devices_by_health(device):
    others = register_devices(3, site_no=2)
    others[0].health_status = "critical"
    others[1].health_status = "offline"
    others[2].is_active = False
    for d in others:
        d.save()
    assert devices_monitored(Device.objects.all(), now=NOW) == {
        "active": 3,
        "by_health": {"healthy": 1, "warning": 0, "critical": 1, "offline": 1},
        "out_of_service": 0,
    }


def test_alerts_are_counted_per_rolling_week_and_severity(device):
    make_alert(device, at=NOW - timedelta(hours=1), severity="CRITICAL")
    make_alert(device, at=NOW - timedelta(days=7), severity="HIGH")  # this week's first instant
    make_alert(device, at=NOW - timedelta(days=7, seconds=1), severity="HIGH")  # last week
    make_alert(device, at=NOW - timedelta(days=13), severity="MEDIUM")
    make_alert(device, at=NOW - timedelta(days=15), severity="LOW")  # two weeks ago
    make_alert(device, at=NOW - timedelta(days=60), severity="LOW")  # before the 8 weeks
    make_alert(device, at=NOW + timedelta(minutes=1), severity="LOW")  # after now
    kept = make_alert(device, at=NOW - timedelta(days=2), severity="CRITICAL")
    duplicate = {"suppressed": True, "suppressed_by": kept}
    make_alert(device, at=NOW - timedelta(days=2), severity="CRITICAL", **duplicate)

    weeks = alerts_per_week(DeviceAlert.objects.all(), now=NOW)

    assert len(weeks) == 8 and weeks[-1]["end"] == NOW
    assert weeks[0]["start"] == NOW - timedelta(days=56)
    assert weeks[-3]["counts"] == {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 1}
    wow = week_over_week(weeks)
    assert wow["this_week"] == {"CRITICAL": 2, "HIGH": 1, "MEDIUM": 0, "LOW": 0}
    assert wow["last_week"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 1, "LOW": 0}
    assert wow["change"] == {"CRITICAL": 2, "HIGH": 0, "MEDIUM": -1, "LOW": 0}
    assert (wow["this_week_total"], wow["last_week_total"]) == (3, 2)


def test_sla_compliance_counts_answers_at_the_deadline_as_in_time(device):
    def alert(severity, created):
        return make_alert(device, at=created, severity=severity)

    created = NOW - timedelta(days=3)
    on_time = alert("CRITICAL", created)  # deadline: created + 30 min
    answered(on_time, "acknowledged", on_time.sla_deadline)  # exactly at the deadline
    late = alert("CRITICAL", created)
    answered(late, "escalated", late.sla_deadline - timedelta(minutes=5))  # not an answer
    answered(late, "acknowledged", late.sla_deadline + timedelta(seconds=1))
    by_maintenance = alert("HIGH", created)
    answered(by_maintenance, "maintenance_scheduled", created + timedelta(minutes=10))
    answered(by_maintenance, "resolved", created + timedelta(hours=5))
    closed_as_fp = alert("HIGH", created)
    answered(closed_as_fp, "false_positive", created + timedelta(hours=1))
    alert("MEDIUM", created)  # never answered, deadline long past: breached
    alert("CRITICAL", NOW - timedelta(minutes=10))  # not answered yet, not due: pending
    old = alert("LOW", NOW - timedelta(days=31))  # outside the 30 days
    answered(old, "acknowledged", old.alert_created_at)

    sla = sla_compliance(DeviceAlert.objects.all(), now=NOW)

    assert sla["CRITICAL"] == {"met": 1, "breached": 1, "pending": 1, "compliance": 0.5}
    assert sla["HIGH"] == {"met": 2, "breached": 0, "pending": 0, "compliance": 1.0}
    assert sla["MEDIUM"] == {"met": 0, "breached": 1, "pending": 0, "compliance": 0.0}
    assert sla["LOW"] == {"met": 0, "breached": 0, "pending": 0, "compliance": None}
    assert sla["ALL"] == {"met": 3, "breached": 2, "pending": 1, "compliance": 0.6}


def test_time_to_maintenance_runs_from_a_high_alert_to_its_first_job(device):
    created = NOW - timedelta(days=2)
    high = make_alert(device, at=created, severity="HIGH")
    maintenance(high, created + timedelta(hours=5))
    maintenance(high, created + timedelta(hours=2))  # the first job counts
    critical = make_alert(device, at=created, severity="CRITICAL")
    maintenance(critical, created + timedelta(hours=4))
    late = make_alert(device, at=created, severity="HIGH")
    maintenance(late, created + timedelta(hours=12))
    make_alert(device, at=created, severity="HIGH")  # no job yet
    medium = make_alert(device, at=created, severity="MEDIUM")
    maintenance(medium, created + timedelta(minutes=30))  # not HIGH: left out
    old = make_alert(device, at=NOW - timedelta(days=40), severity="HIGH")
    maintenance(old, old.alert_created_at + timedelta(minutes=1))  # older than 30 days

    found = time_to_maintenance(DeviceAlert.objects.all(), now=NOW)

    assert (found["alerts"], found["with_maintenance"]) == (4, 3)
    assert found["mean_hours"] == pytest.approx(6.0)  # (2 + 4 + 12) / 3
    assert found["median_hours"] == pytest.approx(4.0)


def test_the_overview_is_refused_to_operators(client, db):
    people = cast_of_roles()
    assert api_as(people["operator_a"]).get("/api/v1/overview/").status_code == 403
    client.force_login(people["operator_a"])
    assert client.get("/overview/").status_code == 403
    assert api_as(None).get("/api/v1/overview/").status_code in (401, 403)


def test_managers_see_the_overview_numbers_and_chart(client, device):
    people = cast_of_roles()
    alert = make_alert(device, at=timezone.now() - timedelta(hours=3), severity="HIGH")
    answered(alert, "acknowledged", alert.alert_created_at + timedelta(minutes=5))
    maintenance(alert, alert.alert_created_at + timedelta(minutes=90))

    for name in ("manager", "ml_engineer", "admin"):
        body = api_as(people[name]).get("/api/v1/overview/").json()
        assert body["devices"]["active"] == 1
        assert body["week_over_week"]["this_week"]["HIGH"] == 1
        assert body["sla"]["HIGH"]["compliance"] == 1.0
        assert body["time_to_maintenance"]["mean_hours"] == pytest.approx(1.5)
        assert len(body["weeks"]) == 8

    client.force_login(people["manager"])
    page = client.get("/overview/").content.decode()
    assert 'data-figure-json="weekly-figure"' in page and 'id="weekly-figure"' in page
    assert "1.5 h" in page  # mean time to maintenance
    assert '<tr data-severity="HIGH">' in page
