"""Shelving (ISA-18.2) through the service and the API: who may shelve, in which scope, the
audit row, the queue views, bad input per field, expiry by the sweep and the new round of
notifications, and bulk shelving."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, DeviceAlert, Notification
from alerts.notifications.services import alert_route
from alerts.shelving import alert_shelve, shelve_expire, shift_end
from alerts.workflow import escalate
from tests.alerts.alert_cast import api_as, cast, east, make_alert, west  # noqa: F401

pytestmark = pytest.mark.django_db

SHELVE = {"duration": "1h", "reason": "technician on site, door held open"}


def post(user, alert, action, body):
    return api_as(user).post(f"/api/v1/alerts/{alert.pk}/{action}/", body, format="json")


def queue_ids(user, **params) -> set[str]:
    response = api_as(user).get("/api/v1/alerts/", params)
    assert response.status_code == 200, response.content
    return {row["alert_id"] for row in response.json()["results"] if row["kind"] == "alert"}


@pytest.fixture
def alert(west):  # noqa: F811
    return make_alert(west[0])


# ---------------------------------------------------------------- end of the shift


@pytest.mark.parametrize(
    ("now", "region", "expected"),
    [
        # 10:00 in Los Angeles (PDT, UTC-7): the 14:00 boundary, 21:00 UTC.
        (datetime(2026, 6, 1, 17, 0, tzinfo=UTC), "US-W", datetime(2026, 6, 1, 21, 0, tzinfo=UTC)),
        # 23:30 in New York (EDT): the next day's 06:00, 10:00 UTC.
        (datetime(2026, 6, 2, 3, 30, tzinfo=UTC), "US-E", datetime(2026, 6, 2, 10, 0, tzinfo=UTC)),
        # On a boundary exactly: the next one, not now.
        (datetime(2026, 6, 1, 21, 0, tzinfo=UTC), "US-W", datetime(2026, 6, 2, 5, 0, tzinfo=UTC)),
    ],
)
def test_the_shift_ends_at_the_next_boundary_in_the_sites_time_zone(now, region, expected):
    assert shift_end(region=region, now=now) == expected


def test_end_of_shift_follows_the_boundaries_setting(settings):
    settings.FLEETMON_SHIFT_BOUNDARIES = "07:00,19:00"
    now = datetime(2026, 1, 10, 16, 0, tzinfo=UTC)  # 08:00 in Los Angeles (PST, UTC-8)
    assert shift_end(region="US-W", now=now) == datetime(2026, 1, 11, 3, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the action


def test_an_operator_shelves_an_alert_with_a_reason_and_it_is_audited(cast, alert):  # noqa: F811
    before = timezone.now()
    response = post(cast["operator_a"], alert, "shelve", SHELVE)
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert (
        before + timedelta(minutes=59) < alert.shelved_until <= timezone.now() + timedelta(hours=1)
    )
    assert alert.status == "open"  # shelving is not a verdict
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.actor, event.note) == ("shelved", "operator_a", SHELVE["reason"])
    assert event.details["duration"] == "1h"
    assert datetime.fromisoformat(event.details["until"]) == alert.shelved_until
    assert response.json()["events"][-1]["kind"] == "shelved"


def test_shelving_until_a_chosen_time(cast, alert):  # noqa: F811
    until = (timezone.now() + timedelta(hours=6)).replace(microsecond=0)
    body = {"duration": "until", "until": until.isoformat(), "reason": "part on order"}
    assert post(cast["admin"], alert, "shelve", body).status_code == 200
    alert.refresh_from_db()
    assert alert.shelved_until == until


@pytest.mark.parametrize("who", ["manager", "ml_engineer"])
def test_read_only_roles_may_not_shelve(cast, alert, who):  # noqa: F811
    assert post(cast[who], alert, "shelve", SHELVE).status_code == 403
    alert.refresh_from_db()
    assert alert.shelved_until is None
    assert not AlertEvent.objects.filter(alert=alert, kind="shelved").exists()


def test_an_operator_of_another_region_cannot_shelve_or_unshelve(cast, alert):  # noqa: F811
    assert post(cast["operator_b"], alert, "shelve", SHELVE).status_code == 404
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="4h", reason="visit")
    assert post(cast["operator_b"], alert, "unshelve", {}).status_code == 404
    alert.refresh_from_db()
    assert alert.shelved_until is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration": "1h"}, "reason"),
        ({"duration": "1h", "reason": "   "}, "reason"),
        ({"duration": "1w", "reason": "x"}, "duration"),
        ({"reason": "x"}, "duration"),
        ({"duration": "until", "reason": "x"}, "until"),
        ({"duration": "until", "until": "2020-01-01T00:00:00Z", "reason": "x"}, "until"),
        ({"duration": "until", "until": "not a time", "reason": "x"}, "until"),
    ],
)
def test_bad_input_is_refused_per_field(cast, alert, body, field):  # noqa: F811
    response = post(cast["operator_a"], alert, "shelve", body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    alert.refresh_from_db()
    assert alert.shelved_until is None


def test_more_than_24_hours_is_refused(cast, alert):  # noqa: F811
    until = timezone.now() + timedelta(hours=24, minutes=5)
    body = {"duration": "until", "until": until.isoformat(), "reason": "long job"}
    response = post(cast["operator_a"], alert, "shelve", body)
    assert response.status_code == 400
    assert response.json()["until"] == ["at most 24 hours ahead"]


def test_a_closed_alert_cannot_be_shelved(cast, alert):  # noqa: F811
    DeviceAlert.objects.filter(pk=alert.pk).update(status="resolved")
    response = post(cast["operator_a"], alert, "shelve", SHELVE)
    assert response.status_code == 409
    assert "resolved" in response.json()["detail"]


def test_unshelving_what_is_not_shelved_is_a_conflict(cast, alert):  # noqa: F811
    response = post(cast["operator_a"], alert, "unshelve", {})
    assert response.status_code == 409
    assert response.json()["detail"] == "the alert is not shelved"


# ---------------------------------------------------------------- the queue


def test_a_shelved_alert_leaves_the_queue_for_the_shelved_view(cast, west):  # noqa: F811
    shelved, other = make_alert(west[0]), make_alert(west[1])
    alert_shelve(alert_id=shelved.pk, actor="operator_a", duration="4h", reason="visit")
    operator = cast["operator_a"]
    assert queue_ids(operator) == {str(other.pk)}
    response = api_as(operator).get("/api/v1/alerts/", {"shelved": "true"})
    (row,) = response.json()["results"]
    assert row["alert_id"] == str(shelved.pk)
    shelved.refresh_from_db()
    assert datetime.fromisoformat(row["shelved_until"]) == shelved.shelved_until


def test_unshelving_by_hand_brings_it_back_and_is_audited(cast, alert):  # noqa: F811
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="4h", reason="visit")
    response = post(cast["operator_a"], alert, "unshelve", {"note": "visit cancelled"})
    assert response.status_code == 200, response.content
    assert queue_ids(cast["operator_a"]) == {str(alert.pk)}
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.actor, event.note) == ("unshelved", "operator_a", "visit cancelled")


def test_an_expired_shelf_is_back_in_the_queue_before_the_sweep(cast, alert):  # noqa: F811
    past = timezone.now() - timedelta(hours=2)
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="1h", reason="x", now=past)
    assert queue_ids(cast["operator_a"]) == {str(alert.pk)}


# ---------------------------------------------------------------- expiry


def test_the_sweep_returns_expired_shelves_and_notifies_again(
    cast,  # noqa: F811
    alert,
    django_capture_on_commit_callbacks,
    settings,
):
    from fleetmon.celery import app

    cast["operator_a"].email = "operator_a@example.com"
    cast["operator_a"].save()
    first = alert_route(alert_id=alert.pk)
    assert first, "the operator of the region is told of the alert"
    now = timezone.now()
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="1h", reason="visit", now=now)

    # While shelved, an escalation tells nobody.
    escalate(alert_id=alert.pk, actor="someone", level="L2", to="Kim", reason="slow")
    assert alert_route(alert_id=alert.pk) == []
    assert shelve_expire(now=now + timedelta(minutes=59)) == 0

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            returned = shelve_expire(now=now + timedelta(hours=1, seconds=1))
    finally:
        app.conf.task_always_eager = False
    assert returned == 1
    alert.refresh_from_db()
    assert alert.shelved_until is None
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.actor) == ("unshelved", "system")
    assert event.details["expired"] is True
    again = Notification.objects.filter(alert=alert, round=event.pk)
    assert {n.recipient for n in again} >= {"operator_a@example.com"}
    assert shelve_expire(now=now + timedelta(hours=2)) == 0  # a rerun returns nothing twice


def test_a_shelf_of_a_closed_alert_expires_silently(cast, alert):  # noqa: F811
    now = timezone.now()
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="1h", reason="x", now=now)
    DeviceAlert.objects.filter(pk=alert.pk).update(status="resolved")
    assert shelve_expire(now=now + timedelta(hours=2)) == 0
    alert.refresh_from_db()
    assert alert.shelved_until is None
    assert not AlertEvent.objects.filter(alert=alert, kind="unshelved").exists()


# ---------------------------------------------------------------- bulk


def test_bulk_shelve_acts_on_each_alert_in_scope_only(cast, west, east):  # noqa: F811
    mine = [make_alert(west[0]), make_alert(west[1])]
    theirs = make_alert(east)
    body = {
        "action": "shelve",
        "alert_ids": [str(a.pk) for a in [*mine, theirs]],
        "duration": "end_of_shift",
        "reason": "store refit tonight",
    }
    response = api_as(cast["operator_a"]).post("/api/v1/alerts/bulk/", body, format="json")
    assert response.status_code == 200, response.content
    results = {r["alert_id"]: r for r in response.json()["results"]}
    assert [results[str(a.pk)]["result"] for a in mine] == ["ok", "ok"]
    assert results[str(theirs.pk)]["http_status"] == 404
    theirs.refresh_from_db()
    assert theirs.shelved_until is None
    for alert in mine:
        alert.refresh_from_db()
        assert alert.shelved_until is not None
        assert alert.shelved_until <= timezone.now() + timedelta(hours=24)
        assert AlertEvent.objects.filter(
            alert=alert, kind="shelved", actor="operator_a", note="store refit tonight"
        ).exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"reason": "x"}, "duration"), ({"duration": "4h"}, "reason")],
)
def test_bulk_shelve_needs_a_duration_and_a_reason(cast, alert, extra, field):  # noqa: F811
    body = {"action": "shelve", "alert_ids": [str(alert.pk)], **extra}
    response = api_as(cast["operator_a"]).post("/api/v1/alerts/bulk/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    alert.refresh_from_db()
    assert alert.shelved_until is None


def test_bulk_shelve_is_refused_to_read_only_roles(cast, alert):  # noqa: F811
    body = {"action": "shelve", "alert_ids": [str(alert.pk)], **SHELVE}
    response = api_as(cast["manager"]).post("/api/v1/alerts/bulk/", body, format="json")
    assert response.status_code == 403


def test_the_alert_page_and_detail_show_the_shelf(cast, alert):  # noqa: F811
    alert_shelve(alert_id=alert.pk, actor="operator_a", duration="4h", reason="visit")
    alert.refresh_from_db()
    client = api_as(cast["operator_a"])
    detail = client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert datetime.fromisoformat(detail["shelved_until"]) == alert.shelved_until
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert 'id="alert-shelved-until"' in page and "Shelved" in page
