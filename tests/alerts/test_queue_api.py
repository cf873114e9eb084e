"""The triage queue over HTTP: list API, CSV export, bulk actions, saved views and the page,
with role and scope enforced by the server."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client

from alerts.models import AlertEvent, DeviceAlert, LabelEvent, SavedView
from fleetmon.accounts.models import Profile
from tests.alerts.test_queue import NOW, _storm, make_alert
from tests.conftest import register_devices

pytestmark = pytest.mark.django_db


def login(django_user_model, name: str, role: str, regions=()) -> Client:
    user = django_user_model.objects.create_user(name, password="pw")
    Profile.objects.create(user=user, role=role, regions=list(regions))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def fleet(db):
    west = register_devices(2, region="US-W", site_no=1)
    east = register_devices(2, region="US-E", site_no=2)
    return west, east


@pytest.fixture
def alice(django_user_model):
    """Operator of US-W."""
    return login(django_user_model, "alice", "operator", ["US-W"])


@pytest.fixture
def bob(django_user_model):
    """Operator of US-E."""
    return login(django_user_model, "bob", "operator", ["US-E"])


@pytest.fixture
def manager(django_user_model):
    return login(django_user_model, "mona", "manager")


def listed(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["alert_id"] for row in response.json()["results"] if row["kind"] == "alert"]


def post_bulk(client, **body):
    return client.post("/api/v1/alerts/bulk/", body, content_type="application/json")


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- list


def test_list_rows_carry_the_queue_fields(fleet, alice):
    west, _ = fleet
    alert = make_alert(west[0], severity="CRITICAL", anomaly_score=0.97)
    [row] = alice.get("/api/v1/alerts/").json()["results"]
    assert row == {
        "kind": "alert",
        "alert_id": str(alert.pk),
        "device_id": west[0].device_id,
        "site_id": west[0].site_id,
        "site_name": "Store 1",
        "region": "US-W",
        "severity": "CRITICAL",
        "status": "open",
        "alert_type": "ANOMALY_DETECTED",
        "source": "batch",
        "model_id": "isolation_forest_v3",
        "title": alert.title,
        "anomaly_score": 0.97,
        "alert_created_at": "2026-03-02T11:30:00Z",
        "first_detected_at": "2026-03-02T11:30:00Z",
        "sla_deadline": "2026-03-02T13:30:00Z",
        "sla_breached": False,
        "escalation_level": "L1",
        "storm_id": None,
        "shelved_until": None,
        "device_out_of_service_until": None,
    }


def test_list_filters_by_query_parameters_and_pages_with_the_cursor(fleet, manager):
    west, east = fleet
    wanted = [
        make_alert(d, severity=s, deadline=NOW + timedelta(minutes=i))
        for i, (d, s) in enumerate([(west[0], "HIGH"), (east[0], "CRITICAL"), (east[1], "HIGH")])
    ]
    make_alert(west[1], severity="LOW")
    params = {"severity": ["HIGH", "CRITICAL"], "limit": 2}
    first = manager.get("/api/v1/alerts/", params).json()
    second = manager.get("/api/v1/alerts/", {**params, "cursor": first["next_cursor"]}).json()
    assert [r["alert_id"] for r in first["results"] + second["results"]] == [
        str(wanted[1].pk),
        str(wanted[0].pk),
        str(wanted[2].pk),
    ]
    assert second["next_cursor"] is None


def test_list_shows_a_storm_as_one_row_and_expands_it(fleet, alice):
    west, _ = fleet
    storm, members = _storm(west, 3, site_id=west[0].site_id)
    [row] = alice.get("/api/v1/alerts/").json()["results"]
    assert (row["kind"], row["storm_id"], row["alert_count"]) == ("storm", storm.pk, 3)
    assert row["runbook_url"] == "/runbooks/streaming-alert-storm/"
    expanded = listed(alice.get("/api/v1/alerts/", {"storm": storm.pk}))
    assert expanded == [str(m.pk) for m in members]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"severity": "URGENT"}, "severity"),
        ({"status": "closed"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"window": "2w"}, "window"),
        ({"created_after": "yesterday"}, "created_after"),
        (
            {"created_after": "2026-03-02T00:00Z", "created_before": "2026-03-01T00:00Z"},
            "created_before",
        ),
    ],
)
def test_list_answers_bad_parameters_with_400_per_field(fleet, alice, params, field):
    response = alice.get("/api/v1/alerts/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_blank_parameters_mean_any(fleet, alice):
    alert = make_alert(fleet[0][0])
    response = alice.get("/api/v1/alerts/?severity=&alert_type=&q=&window=")
    assert listed(response) == [str(alert.pk)]


def test_the_list_refuses_anonymous_and_roleless_users(fleet, django_user_model):
    make_alert(fleet[0][0])
    assert Client().get("/api/v1/alerts/").status_code in (401, 403)
    nobody = Client()
    nobody.force_login(django_user_model.objects.create_user("eve", password="pw"))
    assert nobody.get("/api/v1/alerts/").status_code == 403


# ---------------------------------------------------------------- scope


def test_an_operator_never_sees_another_regions_alerts(fleet, alice, bob):
    west, east = fleet
    mine, theirs = make_alert(west[0]), make_alert(east[0])
    assert listed(alice.get("/api/v1/alerts/")) == [str(mine.pk)]
    assert listed(alice.get("/api/v1/alerts/", {"region": "US-E"})) == []
    assert listed(alice.get("/api/v1/alerts/", {"alert_id": str(theirs.pk)})) == []
    assert listed(bob.get("/api/v1/alerts/")) == [str(theirs.pk)]
    exported = csv_rows(alice.get("/api/v1/alerts/export.csv", {"status": ["open"]}))
    assert [r["alert_id"] for r in exported] == [str(mine.pk)]


def test_bulk_on_another_regions_alert_is_404_for_that_alert(fleet, alice):
    west, east = fleet
    mine, theirs = make_alert(west[0]), make_alert(east[0])
    response = post_bulk(alice, action="acknowledge", alert_ids=[str(theirs.pk), str(mine.pk)])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["alert_id"], r["result"], r["http_status"]) for r in results] == [
        (str(theirs.pk), "not_found", 404),
        (str(mine.pk), "ok", 200),
    ]
    assert results[0]["detail"] == "no such alert in your scope"
    theirs.refresh_from_db()
    assert theirs.status == "open" and not AlertEvent.objects.filter(alert=theirs).exists()


def test_the_manager_reads_everything_and_changes_nothing(fleet, manager, django_user_model):
    west, east = fleet
    alerts = [make_alert(west[0]), make_alert(east[0])]
    assert set(listed(manager.get("/api/v1/alerts/"))) == {str(a.pk) for a in alerts}
    response = post_bulk(manager, action="acknowledge", alert_ids=[str(alerts[0].pk)])
    assert response.status_code == 403
    ml = login(django_user_model, "mel", "ml_engineer")
    assert post_bulk(ml, action="acknowledge", alert_ids=[str(alerts[0].pk)]).status_code == 403
    assert DeviceAlert.objects.filter(status="open").count() == 2


# ---------------------------------------------------------------- CSV


def test_csv_exports_every_matching_alert_in_queue_order(fleet, manager):
    west, east = fleet
    storm, members = _storm(west, 2, site_id=west[0].site_id)
    high = make_alert(east[0], severity="HIGH", title="=HYPERLINK(evil)")
    make_alert(east[1], severity="LOW", status="resolved")
    response = manager.get("/api/v1/alerts/export.csv")
    assert response["Content-Disposition"].startswith('attachment; filename="fleetmon-alerts-')
    rows = csv_rows(response)
    # Storm members are listed one by one; the resolved alert is outside the default filter.
    assert [r["alert_id"] for r in rows] == [str(members[0].pk), str(members[1].pk), str(high.pk)]
    assert list(rows[0]) == [
        "alert_id",
        "device_id",
        "site_id",
        "site_name",
        "region",
        "severity",
        "status",
        "alert_type",
        "source",
        "model_id",
        "title",
        "anomaly_score",
        "alert_created_at",
        "first_detected_at",
        "sla_deadline",
        "sla_breached",
        "escalation_level",
        "storm_id",
        "shelved_until",
    ]
    assert rows[0]["storm_id"] == str(storm.pk) and rows[0]["site_name"] == "Store 1"
    assert rows[2]["sla_deadline"] == high.sla_deadline.isoformat()
    assert rows[2]["title"] == "'=HYPERLINK(evil)"  # not run as a formula by a spreadsheet


def test_csv_applies_the_filters_and_has_a_header_when_empty(fleet, manager):
    make_alert(fleet[0][0], severity="LOW")
    response = manager.get("/api/v1/alerts/export.csv", {"severity": "CRITICAL"})
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines() == [text.splitlines()[0]] and text.startswith("alert_id,device_id")
    assert manager.get("/api/v1/alerts/export.csv", {"severity": "X"}).status_code == 400


# ---------------------------------------------------------------- bulk actions


def test_bulk_acknowledge_reports_each_alert_and_audits_the_changes(fleet, alice):
    west, _ = fleet
    a, b = make_alert(west[0]), make_alert(west[1])
    closed = make_alert(west[0], status="resolved")
    response = post_bulk(
        alice,
        action="acknowledge",
        alert_ids=[str(a.pk), str(closed.pk), str(b.pk), str(a.pk)],
        note="on it",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["action"], body["succeeded"], body["failed"]) == ("acknowledge", 2, 1)
    by_id = {r["alert_id"]: r for r in body["results"]}
    assert len(body["results"]) == 3  # a repeated id is acted on once
    assert by_id[str(a.pk)]["status"] == "acknowledged"
    assert by_id[str(closed.pk)] == {
        "alert_id": str(closed.pk),
        "result": "conflict",
        "http_status": 409,
        "detail": "cannot acknowledge an alert that is resolved; only open alerts",
        "status": None,
        "shelved_until": None,
    }
    events = AlertEvent.objects.filter(kind="acknowledged").order_by("alert_id")
    assert sorted((str(e.alert_id), e.actor, e.note) for e in events) == sorted(
        [(str(a.pk), "alice", "on it"), (str(b.pk), "alice", "on it")]
    )
    closed.refresh_from_db()
    assert closed.status == "resolved"


def test_bulk_false_positive_writes_operator_feedback_labels(fleet, alice):
    west, _ = fleet
    alerts = [make_alert(west[0]), make_alert(west[1], status="acknowledged")]
    response = post_bulk(
        alice,
        action="mark_false_positive",
        alert_ids=[str(x.pk) for x in alerts],
        reason="door left open by staff",
    )
    assert response.json()["succeeded"] == 2
    labels = LabelEvent.objects.filter(alert__in=alerts)
    assert {(lb.label_type, lb.label_source, lb.notes) for lb in labels} == {
        ("false_positive", "operator_feedback", "door left open by staff")
    }
    assert labels.count() == 2


def test_bulk_resolve_closes_the_alerts(fleet, alice):
    alert = make_alert(fleet[0][0], status="in_progress")
    response = post_bulk(alice, action="resolve", alert_ids=[str(alert.pk)], note="replaced fan")
    assert response.json()["results"][0]["status"] == "resolved"
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_at is not None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "mark_false_positive", "reason": "  "}, "reason"),
        ({"action": "resolve"}, "note"),
        ({"action": "escalate"}, "action"),
        ({"action": "acknowledge", "alert_ids": []}, "alert_ids"),
        ({"action": "acknowledge", "alert_ids": ["not-a-uuid"]}, "alert_ids"),
        ({"action": "acknowledge", "alert_ids": None}, "alert_ids"),
    ],
)
def test_bulk_answers_bad_input_with_400_per_field(fleet, alice, body, field):
    alert = make_alert(fleet[0][0])
    body = {"alert_ids": [str(alert.pk)], **body}
    if body["alert_ids"] is None:
        del body["alert_ids"]
    response = post_bulk(alice, **body)
    assert response.status_code == 400
    assert field in response.json()
    alert.refresh_from_db()
    assert alert.status == "open"


# ---------------------------------------------------------------- saved views


def test_saved_views_are_created_listed_and_deleted_by_their_owner(fleet, alice):
    filters = {"severity": ["HIGH", "CRITICAL"], "q": "compressor", "window": "24h"}
    created = alice.post(
        "/api/v1/saved-views/", {"name": "Hot ones", "filters": filters}, "application/json"
    )
    assert created.status_code == 201
    view = created.json()
    assert view["filters"] == {"severity": ["CRITICAL", "HIGH"], "window": "24h", "q": "compressor"}
    assert [v["name"] for v in alice.get("/api/v1/saved-views/").json()] == ["Hot ones"]
    assert alice.delete(f"/api/v1/saved-views/{view['id']}/").status_code == 204
    assert alice.get("/api/v1/saved-views/").json() == []


def test_saved_views_of_others_are_invisible_and_cannot_be_deleted(fleet, alice, bob):
    theirs = SavedView.objects.create(user=bob.user, name="Bob's", filters={})
    assert alice.get("/api/v1/saved-views/").json() == []
    assert alice.delete(f"/api/v1/saved-views/{theirs.pk}/").status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"name": "x", "filters": {"colour": "red"}}, "filters", "unknown filter(s): colour"),
        ({"name": "x", "filters": {"severity": ["URGENT"]}}, "filters", "not a valid choice"),
        ({"name": "x", "filters": ["severity"]}, "filters", "an object of filter names"),
        ({"name": "x", "filters": {"storm": 3}}, "filters", "unknown filter(s): storm"),
        ({"name": "  ", "filters": {}}, "name", "may not be blank"),
        ({"name": "Taken", "filters": {}}, "name", "already have a view with this name"),
    ],
)
def test_saved_view_validation(fleet, alice, body, field, message):
    SavedView.objects.create(user=alice.user, name="Taken", filters={})
    response = alice.post("/api/v1/saved-views/", body, "application/json")
    assert response.status_code == 400
    assert message in str(response.json()[field]).replace('"', "'")


# ---------------------------------------------------------------- page


def test_the_page_shows_the_operators_queue_with_bulk_actions(fleet, alice):
    west, east = fleet
    mine = make_alert(west[0], severity="CRITICAL")
    theirs = make_alert(east[0], severity="CRITICAL")
    SavedView.objects.create(user=alice.user, name="Mine only", filters={"severity": ["HIGH"]})
    response = alice.get("/alerts/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="alert-queue"' in html and 'id="bulk-actions"' in html
    assert f'data-alert-id="{mine.pk}"' in html and 'data-severity="CRITICAL"' in html
    assert str(theirs.pk) not in html and east[0].device_id not in html
    assert f'href="/alerts/{mine.pk}/"' in html and f'href="/devices/{west[0].device_id}/"' in html
    assert "Mine only" in html and 'id="live-toast"' in html


def test_the_page_hides_bulk_actions_from_read_only_roles(fleet, manager):
    make_alert(fleet[0][0])
    html = manager.get("/alerts/").content.decode()
    assert 'id="alert-queue"' in html
    assert 'id="bulk-actions"' not in html and "row-select" not in html


def test_the_page_applies_filters_and_reports_bad_ones(fleet, alice):
    west, _ = fleet
    high, low = make_alert(west[0], severity="HIGH"), make_alert(west[1], severity="LOW")
    html = alice.get("/alerts/", {"severity": "LOW", "alert_type": ""}).content.decode()
    assert str(low.pk) in html and str(high.pk) not in html
    bad = alice.get("/alerts/", {"severity": "URGENT"})
    assert bad.status_code == 200
    assert 'id="filter-errors"' in bad.content.decode() and str(high.pk) in bad.content.decode()


def test_the_page_sends_anonymous_users_to_the_login(db):
    response = Client().get("/alerts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/alerts/")


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_csv_streams_under_the_asgi_server(asgi_server, django_user_model):
    """Under ASGI the export is an async iterator pulling chunks through the ORM in the
    request's thread; a large export arrives whole and in order."""
    import httpx

    west = register_devices(3, region="US-W", site_no=1)
    alerts = [
        make_alert(west[i % 3], severity="LOW", deadline=NOW + timedelta(seconds=i))
        for i in range(1500)
    ]
    manager = login(django_user_model, "mona", "manager")
    cookie = {"sessionid": manager.cookies["sessionid"].value}
    with httpx.stream(
        "GET", f"{asgi_server}/api/v1/alerts/export.csv", cookies=cookie, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        chunks = list(response.iter_raw())
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [r["alert_id"] for r in rows] == [str(a.pk) for a in alerts]
    anonymous = httpx.get(f"{asgi_server}/api/v1/alerts/export.csv", timeout=10)
    assert anonymous.status_code in (401, 403)
