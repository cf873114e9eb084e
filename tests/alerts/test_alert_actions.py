"""The operator actions through the API: each legal transition and its audit trail, each
illegal one refused with 409, bad input 400 per field, and role and scope enforcement."""

from datetime import UTC, datetime

import pytest

from alerts.models import AlertEvent, DeviceAlert, LabelEvent, MaintenanceEvent
from tests.alerts.alert_cast import api_as, cast, east, make_alert, west  # noqa: F401

pytestmark = pytest.mark.django_db

TOMORROW = "2030-05-02T09:30:00Z"
VALID = {
    "acknowledge": {"note": "on it"},
    "schedule-maintenance": {
        "event_type": "corrective",
        "scheduled_date": TOMORROW,
        "priority": "high",
    },
    "false-positive": {"reason": "restocking, door held open"},
    "resolve": {"notes": "condenser cleaned"},
    "escalate": {"level": "L2", "to": "regional engineer Kim", "reason": "no spare parts"},
}


def post(user, alert, action, body):
    return api_as(user).post(f"/api/v1/alerts/{alert.pk}/{action}/", body, format="json")


def events(alert) -> list[tuple[str, str, str]]:
    return list(
        AlertEvent.objects.filter(alert=alert)
        .order_by("at", "pk")
        .values_list("kind", "actor", "note")
    )


@pytest.fixture
def alert(west):  # noqa: F811
    return make_alert(west[0])


def in_status(alert, status: str, **fields) -> DeviceAlert:
    DeviceAlert.objects.filter(pk=alert.pk).update(status=status, **fields)
    alert.refresh_from_db()
    return alert


# ---------------------------------------------------------------- legal transitions


def test_acknowledge_moves_an_open_alert_on_and_records_who_and_why(cast, alert):  # noqa: F811
    response = post(cast["operator_a"], alert, "acknowledge", {"note": "calling the store"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "acknowledged"
    assert response.json()["events"][-1]["kind"] == "acknowledged"
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert events(alert)[-1] == ("acknowledged", "operator_a", "calling the store")


def test_acknowledge_needs_no_note(cast, alert):  # noqa: F811
    assert post(cast["operator_a"], alert, "acknowledge", {}).status_code == 200
    assert events(alert)[-1] == ("acknowledged", "operator_a", "")


@pytest.mark.parametrize("start", ["open", "acknowledged"])
def test_scheduling_maintenance_creates_the_job_and_puts_the_alert_in_progress(
    cast,  # noqa: F811
    alert,
    start,
):
    in_status(alert, start)
    alert.device.latest_anomaly_score = 0.93
    alert.device.save(update_fields=["latest_anomaly_score"])
    body = {
        **VALID["schedule-maintenance"],
        "technician_id": "tech-17",
        "note": "replace the fan",
    }
    response = post(cast["operator_a"], alert, "schedule-maintenance", body)
    assert response.status_code == 200, response.content
    job = MaintenanceEvent.objects.get(triggered_by_alert=alert)
    assert (job.device_id, job.event_type, job.priority, job.technician_id) == (
        alert.device_id,
        "corrective",
        "high",
        "tech-17",
    )
    assert job.scheduled_date == datetime(2030, 5, 2, 9, 30, tzinfo=UTC)
    assert (job.work_description, job.created_by) == ("replace the fan", "operator_a")
    assert job.pre_maintenance_anomaly_score == 0.93
    alert.refresh_from_db()
    assert (alert.status, alert.ontology_action_id) == ("in_progress", str(job.event_id))
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.actor, event.details["maintenance_event_id"]) == (
        "maintenance_scheduled",
        "operator_a",
        str(job.event_id),
    )
    assert [m["event_id"] for m in response.json()["maintenance_events"]] == [str(job.event_id)]


@pytest.mark.parametrize("start", ["open", "acknowledged", "in_progress"])
def test_a_false_positive_closes_the_alert_and_writes_an_operator_feedback_label(
    cast,  # noqa: F811
    alert,
    start,
):
    in_status(alert, start)
    response = post(cast["operator_a"], alert, "false-positive", {"reason": "door held open"})
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.status == "false_positive" and alert.resolved_at is not None
    label = LabelEvent.objects.get(alert=alert)
    assert (label.label_type, label.label_source, label.labeled_by, label.notes) == (
        "false_positive",
        "operator_feedback",
        "operator_a",
        "door held open",
    )
    assert (label.device_id, label.event_timestamp) == (alert.device_id, alert.first_detected_at)
    assert 0 <= label.label_confidence <= 1
    assert events(alert)[-1] == ("false_positive", "operator_a", "door held open")
    assert response.json()["label_events"][0]["label_source"] == "operator_feedback"


def test_resolving_with_a_maintenance_event_completes_it_with_the_post_score(cast, alert):  # noqa: F811
    operator = cast["operator_a"]
    assert (
        post(operator, alert, "schedule-maintenance", VALID["schedule-maintenance"]).status_code
        == 200
    )
    job = MaintenanceEvent.objects.get(triggered_by_alert=alert)
    alert.device.latest_anomaly_score = 0.21  # the device after the repair
    alert.device.save(update_fields=["latest_anomaly_score"])
    response = post(
        operator,
        alert,
        "resolve",
        {"notes": "fan replaced", "maintenance_event_id": str(job.event_id)},
    )
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    alert.refresh_from_db()
    assert job.completed_date is not None and job.post_maintenance_anomaly_score == 0.21
    assert (alert.status, alert.resolved_at) == ("resolved", job.completed_date)
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.note, event.details) == (
        "resolved",
        "fan replaced",
        {"maintenance_event_id": str(job.event_id)},
    )


def test_resolving_without_maintenance(cast, alert):  # noqa: F811
    response = post(cast["operator_a"], alert, "resolve", {"notes": "reset the controller"})
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_at is not None
    assert events(alert)[-1] == ("resolved", "operator_a", "reset the controller")


def test_escalation_raises_the_level_step_by_step_and_keeps_the_status(cast, alert):  # noqa: F811
    operator = cast["operator_a"]
    in_status(alert, "acknowledged")
    assert post(operator, alert, "escalate", VALID["escalate"]).status_code == 200
    alert.refresh_from_db()
    assert (alert.escalation_level, alert.escalated_to, alert.status) == (
        "L2",
        "regional engineer Kim",
        "acknowledged",
    )
    assert alert.escalated_at is not None
    third = {"level": "L3", "to": "Frigo vendor support", "reason": "compressor under warranty"}
    response = post(operator, alert, "escalate", third)
    assert response.status_code == 200
    assert response.json()["escalation_level"] == "L3"
    assert "escalate" not in response.json()["allowed_actions"]  # nothing above L3
    last = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (last.kind, last.actor, last.note, last.details) == (
        "escalated",
        "operator_a",
        "compressor under warranty",
        {"from": "L2", "to": "L3", "escalated_to": "Frigo vendor support"},
    )


def test_an_admin_may_act_on_any_alert(cast, alert):  # noqa: F811
    assert post(cast["admin"], alert, "acknowledge", {}).status_code == 200
    assert events(alert)[-1][:2] == ("acknowledged", "admin")


# ---------------------------------------------------------------- illegal transitions

CLOSED = [(status, action) for status in ("resolved", "false_positive") for action in VALID]


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("acknowledged", "acknowledge", "cannot acknowledge an alert that is acknowledged"),
        ("in_progress", "acknowledge", "cannot acknowledge an alert that is in progress"),
        ("in_progress", "schedule-maintenance", "that is in progress; only open or acknowledged"),
        *[(s, a, f"an alert that is {s.replace('_', ' ')}") for s, a in CLOSED],
    ],
)
def test_an_illegal_transition_is_refused_with_409_and_changes_nothing(
    cast,  # noqa: F811
    alert,
    status,
    action,
    message,
):
    in_status(alert, status)
    before = events(alert)
    response = post(cast["operator_a"], alert, action, VALID[action])
    assert response.status_code == 409
    assert message in response.json()["detail"]
    alert.refresh_from_db()
    assert alert.status == status and alert.escalation_level == "L1"
    assert events(alert) == before
    assert not LabelEvent.objects.exists() and not MaintenanceEvent.objects.exists()


@pytest.mark.parametrize(("current", "target"), [("L2", "L2"), ("L3", "L2"), ("L3", "L3")])
def test_escalation_never_stays_level_or_goes_down(cast, alert, current, target):  # noqa: F811
    in_status(alert, "open", escalation_level=current)
    before = events(alert)
    response = post(cast["operator_a"], alert, "escalate", {**VALID["escalate"], "level": target})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"the alert is already at {current}; escalate to a higher level"
    )
    alert.refresh_from_db()
    assert alert.escalation_level == current and events(alert) == before


# ---------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("action", "body", "fields"),
    [
        ("false-positive", {}, {"reason"}),
        ("false-positive", {"reason": "   "}, {"reason"}),
        ("resolve", {}, {"notes"}),
        (
            "resolve",
            {"notes": "ok", "maintenance_event_id": "not-a-uuid"},
            {"maintenance_event_id"},
        ),
        ("escalate", {}, {"level", "to", "reason"}),
        ("escalate", {"level": "L4", "to": "x", "reason": "y"}, {"level"}),
        ("escalate", {"level": "L1", "to": "x", "reason": "y"}, {"level"}),
        ("schedule-maintenance", {}, {"event_type", "scheduled_date"}),
        (
            "schedule-maintenance",
            {"event_type": "weekly", "scheduled_date": "tomorrow", "priority": "asap"},
            {"event_type", "scheduled_date", "priority"},
        ),
        ("acknowledge", {"note": "x" * 4001}, {"note"}),
    ],
)
def test_bad_input_is_refused_with_400_per_field_and_changes_nothing(
    cast,  # noqa: F811
    alert,
    action,
    body,
    fields,
):
    before = events(alert)
    response = post(cast["operator_a"], alert, action, body)
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert all(isinstance(m, list) and m for m in response.json().values())
    alert.refresh_from_db()
    assert alert.status == "open" and events(alert) == before


def test_resolve_refuses_another_devices_maintenance_event(cast, alert, west):  # noqa: F811
    other = make_alert(west[1])
    assert (
        post(
            cast["operator_a"], other, "schedule-maintenance", VALID["schedule-maintenance"]
        ).status_code
        == 200
    )
    job = MaintenanceEvent.objects.get(triggered_by_alert=other)
    response = post(
        cast["operator_a"],
        alert,
        "resolve",
        {"notes": "done", "maintenance_event_id": str(job.event_id)},
    )
    assert response.status_code == 400
    assert response.json() == {
        "maintenance_event_id": [f"not a maintenance event of device {alert.device_id}"]
    }
    alert.refresh_from_db()
    job.refresh_from_db()
    assert alert.status == "open" and job.completed_date is None


# ---------------------------------------------------------------- roles and scope


@pytest.mark.parametrize("action", list(VALID))
def test_an_operator_of_another_region_gets_404_for_every_action(cast, alert, action):  # noqa: F811
    before = events(alert)
    response = post(cast["operator_b"], alert, action, VALID[action])
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.status == "open" and events(alert) == before


def test_an_operator_of_another_region_gets_404_for_the_detail_and_scores(cast, alert):  # noqa: F811
    client = api_as(cast["operator_b"])
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert client.get(f"/api/v1/alerts/{alert.pk}/scores/").status_code == 404


def test_an_unknown_alert_is_404_like_an_out_of_scope_one(cast, alert):  # noqa: F811
    missing = "00000000-0000-4000-8000-000000000000"
    response = api_as(cast["operator_a"]).post(f"/api/v1/alerts/{missing}/acknowledge/", {})
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["manager", "ml_engineer"])
@pytest.mark.parametrize("action", list(VALID))
def test_read_only_roles_read_every_alert_but_may_not_act(cast, alert, role, action):  # noqa: F811
    client = api_as(cast[role])
    detail = client.get(f"/api/v1/alerts/{alert.pk}/")
    assert detail.status_code == 200
    assert detail.json()["allowed_actions"] == []
    response = client.post(f"/api/v1/alerts/{alert.pk}/{action}/", VALID[action], format="json")
    assert response.status_code == 403
    assert "only operators and admins" in response.json()["detail"]
    alert.refresh_from_db()
    assert alert.status == "open" and len(events(alert)) == 1


@pytest.mark.parametrize("action", list(VALID))
def test_anonymous_requests_are_refused(alert, action):
    client = api_as(None)
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 403
    response = client.post(f"/api/v1/alerts/{alert.pk}/{action}/", VALID[action], format="json")
    assert response.status_code == 403
    assert len(events(alert)) == 1


def test_a_user_without_a_role_is_refused(django_user_model, alert):
    nobody = django_user_model.objects.create_user("outsider", password="pw")
    client = api_as(nobody)
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 403
    assert client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}).status_code == 403


def test_a_script_can_act_with_a_token(cast, alert):  # noqa: F811
    from rest_framework.test import APIClient

    from fleetmon.accounts.tokens import api_token_create

    _, token = api_token_create(user=cast["operator_a"], name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "from a script"})
    assert response.status_code == 200
    assert events(alert)[-1] == ("acknowledged", "operator_a", "from a script")


def test_the_browser_session_must_send_the_csrf_token(cast, alert):  # noqa: F811
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast["operator_a"])
    response = client.post(
        f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    page = client.get(f"/alerts/{alert.pk}/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/alerts/{alert.pk}/acknowledge/",
        {},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200


def test_the_second_operator_to_acknowledge_gets_409(cast, alert):  # noqa: F811
    first = post(cast["operator_a"], alert, "acknowledge", {"note": "mine"})
    second = post(cast["admin"], alert, "acknowledge", {"note": "no, mine"})
    assert (first.status_code, second.status_code) == (200, 409)
    assert [e for e in events(alert) if e[0] == "acknowledged"] == [
        ("acknowledged", "operator_a", "mine")
    ]
