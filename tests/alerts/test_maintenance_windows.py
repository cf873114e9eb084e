"""Maintenance windows: when a one-off or weekly window is open (overnight spans included),
alerts inside one are stored suppressed by it with a timeline event and notify nobody (from
the streaming path and from batch scoring), and the API's permissions, scope and per-field
refusals."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from alerts.maintenance_windows import covers, maintenance_window_create
from alerts.models import DeviceAlert, MaintenanceWindow
from alerts.notifications.services import alert_route
from alerts.services import alerts_from_run
from alerts.streaming import alerts_from_firings
from tests.alerts.alert_cast import api_as, cast, east, west  # noqa: F401
from tests.alerts.test_score_to_alert import model, run_with
from tests.alerts.test_websocket import overload
from tests.scoring.conftest import END

pytestmark = pytest.mark.django_db


def weekly(days, start, end, **more) -> MaintenanceWindow:
    return MaintenanceWindow(
        kind="recurring",
        weekdays=days,
        start_time=start,
        end_time=end,
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        **more,
    )


# ---------------------------------------------------------------- when a window is open


def test_a_weekly_window_is_open_on_its_days_and_hours_in_local_time():
    window = weekly([1], time(9), time(11))  # Tuesdays 09:00-11:00 in New York
    tuesday_10_local = datetime(2026, 6, 2, 14, 0, tzinfo=UTC)  # EDT = UTC-4
    assert covers(window, region="US-E", at=tuesday_10_local)
    assert not covers(window, region="US-E", at=tuesday_10_local + timedelta(hours=2))
    assert not covers(window, region="US-E", at=tuesday_10_local + timedelta(days=1))


def test_an_overnight_window_runs_into_the_next_day():
    window = weekly([4], time(22), time(2))  # Friday 22:00 to Saturday 02:00, UTC region
    friday = datetime(2026, 6, 5, tzinfo=UTC)
    assert covers(window, region="", at=friday + timedelta(hours=23))
    assert covers(window, region="", at=friday + timedelta(hours=25))
    assert not covers(window, region="", at=friday + timedelta(hours=26))
    assert not covers(window, region="", at=friday + timedelta(hours=21))


def test_a_one_off_window_is_open_between_its_ends_unless_cancelled():
    start = datetime(2026, 6, 1, 8, tzinfo=UTC)
    window = MaintenanceWindow(kind="one_off", starts_at=start, ends_at=start + timedelta(hours=3))
    assert covers(window, region="US-W", at=start + timedelta(hours=1))
    assert not covers(window, region="US-W", at=start + timedelta(hours=3))
    window.cancelled_at = start
    assert not covers(window, region="US-W", at=start + timedelta(hours=1))


# ---------------------------------------------------------------- alerts inside a window


def open_window_on(device, *, scope="site", kind="one_off"):
    now = timezone.now()
    target = {"site": device.site_id, "device": device.pk, "region": device.region}[scope]
    return maintenance_window_create(
        actor="operator_a",
        scope=scope,
        target=target,
        kind=kind,
        reason="condenser coil cleaning",
        starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2),
    )


def test_a_streaming_alert_inside_a_window_is_stored_suppressed_and_notifies_nobody(
    cast,  # noqa: F811
    west,  # noqa: F811
):
    cast["operator_a"].email = "operator_a@example.com"
    cast["operator_a"].save()
    window = open_window_on(west[0], scope="device")
    now = timezone.now()
    alerts_from_firings([overload(west[0].pk, now), overload(west[1].pk, now)], now=now)
    inside = DeviceAlert.objects.get(device=west[0])
    outside = DeviceAlert.objects.get(device=west[1])
    assert (inside.suppressed, inside.maintenance_window_id) == (True, window.pk)
    assert (outside.suppressed, outside.maintenance_window_id) == (False, None)
    event = inside.events.get(kind="suppressed_by_window")
    assert event.details == {"maintenance_window_id": window.pk}
    assert alert_route(alert_id=inside.pk) == []
    assert alert_route(alert_id=outside.pk) != []


def test_a_batch_alert_inside_a_window_is_stored_suppressed(west, settings):  # noqa: F811
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 1
    # The scored window ended at END, on the Wednesday of a weekly Wednesday window.
    window = MaintenanceWindow.objects.create(
        scope="region",
        region="US-W",
        kind="recurring",
        weekdays=[END.astimezone(ZoneInfo("America/Los_Angeles")).weekday()],
        start_time=time(0),
        end_time=time(23, 59),
        starts_at=END - timedelta(days=30),
        reason="weekly service",
        created_by="admin",
        created_at=END - timedelta(days=30),
    )
    forest = model("isolation_forest")
    run = run_with(
        [(west[0].pk, forest, 0.97, "vibration_compressor_max"), (west[1].pk, forest, 0.97, "x")]
    )
    alerts_from_run(run_id=run.pk)
    alert = DeviceAlert.objects.get(device=west[0])
    assert (alert.suppressed, alert.maintenance_window_id) == (True, window.pk)
    assert alert.events.filter(kind="suppressed_by_window").exists()
    # Another region's window would not have: US-E here quiets nothing in US-W.
    window.region = "US-E"
    window.save()
    later = run_with([(west[1].pk, forest, 0.97, "y")], END + timedelta(minutes=15))
    alerts_from_run(run_id=later.pk)
    assert DeviceAlert.objects.filter(device=west[1], suppressed=False).exists()


def test_a_cancelled_window_suppresses_nothing(cast, west):  # noqa: F811
    window = open_window_on(west[0])
    response = api_as(cast["operator_a"]).post(f"/api/v1/maintenance-windows/{window.pk}/cancel/")
    assert response.status_code == 200, response.content
    now = timezone.now()
    alerts_from_firings([overload(west[0].pk, now)], now=now)
    assert DeviceAlert.objects.get(device=west[0]).suppressed is False


# ---------------------------------------------------------------- the API


def create(user, body):
    return api_as(user).post("/api/v1/maintenance-windows/", body, format="json")


def recurring_body(target, **more) -> dict:
    return {
        "scope": "site",
        "target": target,
        "kind": "recurring",
        "reason": "weekly defrost-coil service",
        "starts_at": timezone.now().isoformat(),
        "weekdays": [0, 3],
        "start_time": "06:00",
        "end_time": "08:00",
        **more,
    }


def test_an_operator_creates_a_weekly_window_for_a_site_in_scope(cast, west):  # noqa: F811
    response = create(cast["operator_a"], recurring_body(west[0].site_id))
    assert response.status_code == 201, response.content
    window = MaintenanceWindow.objects.get()
    assert (window.site_id, window.weekdays, window.created_by) == (
        west[0].site_id,
        [0, 3],
        "operator_a",
    )
    listed = api_as(cast["operator_a"]).get("/api/v1/maintenance-windows/").json()
    assert [w["id"] for w in listed] == [window.pk]
    assert listed[0]["next_start"] is not None or listed[0]["open_now"]


def test_an_operator_of_another_region_gets_404(cast, west):  # noqa: F811
    assert create(cast["operator_b"], recurring_body(west[0].site_id)).status_code == 404
    device_body = recurring_body(west[0].pk, scope="device")
    assert create(cast["operator_b"], device_body).status_code == 404
    assert create(cast["operator_b"], recurring_body("US-W", scope="region")).status_code == 404
    window = open_window_on(west[0])
    cancel = api_as(cast["operator_b"]).post(f"/api/v1/maintenance-windows/{window.pk}/cancel/")
    assert cancel.status_code == 404
    assert api_as(cast["operator_b"]).get("/api/v1/maintenance-windows/").json() == []
    assert not MaintenanceWindow.objects.filter(cancelled_at__isnull=False).exists()


@pytest.mark.parametrize("who", ["manager", "ml_engineer"])
def test_read_only_roles_may_not_create_windows(cast, west, who):  # noqa: F811
    assert create(cast[who], recurring_body(west[0].site_id)).status_code == 403
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"start_time": None}, "start_time"),
        ({"end_time": "06:00"}, "end_time"),
        ({"reason": ""}, "reason"),
        ({"kind": "one_off"}, "ends_at"),
        ({"scope": "planet"}, "scope"),
        ({"starts_at": "tomorrow"}, "starts_at"),
    ],
)
def test_bad_input_is_refused_per_field(cast, west, change, field):  # noqa: F811
    response = create(cast["operator_a"], recurring_body(west[0].site_id, **change))
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not MaintenanceWindow.objects.exists()


# ---------------------------------------------------------------- from "schedule maintenance"


def test_scheduling_maintenance_can_quiet_the_device_for_the_visit(cast, west):  # noqa: F811
    from tests.alerts.alert_cast import make_alert

    alert = make_alert(west[0])
    visit = timezone.now() + timedelta(hours=1)
    body = {"event_type": "corrective", "scheduled_date": visit.isoformat(), "quiet_hours": 3}
    response = api_as(cast["operator_a"]).post(
        f"/api/v1/alerts/{alert.pk}/schedule-maintenance/", body, format="json"
    )
    assert response.status_code == 200, response.content
    window = MaintenanceWindow.objects.get()
    assert (window.scope, window.device_id, window.kind) == ("device", west[0].pk, "one_off")
    assert (window.starts_at, window.ends_at) == (visit, visit + timedelta(hours=3))
    assert window.maintenance_event.triggered_by_alert_id == alert.pk


def test_a_quiet_window_that_would_be_over_already_is_refused_with_nothing_saved(
    cast,  # noqa: F811
    west,  # noqa: F811
):
    from alerts.models import MaintenanceEvent
    from tests.alerts.alert_cast import make_alert

    alert = make_alert(west[0])
    past = timezone.now() - timedelta(hours=5)
    body = {"event_type": "corrective", "scheduled_date": past.isoformat(), "quiet_hours": 2}
    response = api_as(cast["operator_a"]).post(
        f"/api/v1/alerts/{alert.pk}/schedule-maintenance/", body, format="json"
    )
    assert response.status_code == 400
    assert "quiet_hours" in response.json()
    assert not MaintenanceEvent.objects.exists() and not MaintenanceWindow.objects.exists()
    alert.refresh_from_db()
    assert alert.status == "open"


def test_only_a_fleet_wide_role_may_cancel_a_cohort_window(cast, west):  # noqa: F811
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        scope="cohort",
        cohort_id=west[0].cohort_id,
        kind="one_off",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        reason="firmware roll-out",
        created_by="admin",
        created_at=now,
    )
    url = f"/api/v1/maintenance-windows/{window.pk}/cancel/"
    assert api_as(cast["operator_a"]).post(url).status_code == 403
    assert api_as(cast["admin"]).post(url).status_code == 200
    window.refresh_from_db()
    assert window.cancelled_by == "admin"
