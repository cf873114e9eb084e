"""Notification preferences and deliveries over the API, and the settings page."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Notification, NotificationPreference
from tests.alerts.notification_fixtures import *  # noqa: F403 - the cast and stand-ins
from tests.alerts.notification_fixtures import make_alert

ME = "/api/v1/notification-preferences/me/"
LIST = "/api/v1/notifications/"
PAGE = "/settings/notifications/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def valid(**changes) -> dict:
    return {"channels": ["email"], "min_severity": "HIGH", "webhook_url": "", **changes}


# ---------------------------------------------------------------- preferences


def test_a_user_without_preferences_sees_the_defaults(cast):
    body = client_for(cast["alice"]).get(ME).json()
    assert body == {
        "channels": ["email"],
        "min_severity": "MEDIUM",
        "webhook_url": "",
        "on_call": False,
        "email": "alice@example.com",
        "saved": False,
    }


@pytest.fixture(autouse=True)
def public_receiver(dns):
    """hooks.example.com stands for a public receiver (there is no DNS here)."""


def test_a_user_saves_their_own_preferences(cast):
    client = client_for(cast["alice"])
    url = "https://hooks.example.com/alice"
    answer = client.put(
        ME, valid(channels=["webhook", "email"], webhook_url=url, min_severity="CRITICAL")
    )
    assert answer.status_code == 200, answer.json()
    saved = NotificationPreference.objects.get(user=cast["alice"])
    assert (saved.channels, saved.min_severity, saved.webhook_url) == (
        ["email", "webhook"],
        "CRITICAL",
        url,
    )
    assert client.get(ME).json()["saved"] is True
    assert not NotificationPreference.objects.filter(user=cast["bob"]).exists()


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        (valid(channels=["webhook"]), "webhook_url", "required"),
        (valid(channels=["sms"]), "channels", "valid choice"),
        (valid(min_severity="LOW"), "min_severity", "valid choice"),
        (valid(webhook_url="not a url"), "webhook_url", "valid URL"),
        (valid(webhook_url="ftp://files.example.com/x"), "webhook_url", "http"),
        (valid(on_call=True), "on_call", "only an admin"),
        ({"channels": ["email"]}, "min_severity", "required"),
    ],
)
def test_invalid_preferences_are_refused_per_field(cast, payload, field, words):
    answer = client_for(cast["alice"]).put(ME, payload, format="json")
    assert answer.status_code == 400
    errors = answer.json()
    assert list(errors) == [field]
    assert words in " ".join(errors[field])
    assert not NotificationPreference.objects.filter(user=cast["alice"]).exists()


def test_email_channel_needs_an_address_on_the_account(cast, django_user_model):
    from tests.alerts.notification_fixtures import make_user

    nomail = make_user(django_user_model, "nomail", "operator", regions=["US-W"], email="")
    answer = client_for(nomail).put(ME, valid(), format="json")
    assert answer.status_code == 400
    assert "no e-mail address" in answer.json()["channels"][0]


def test_an_operator_keeps_on_call_duty_set_by_an_admin(cast):
    # Olga is on call: sending what GET returned is fine; dropping the duty is not hers.
    client = client_for(cast["olga"])
    current = client.get(ME).json()
    assert current["on_call"] is True
    keep = {k: current[k] for k in ("channels", "min_severity", "webhook_url", "on_call")}
    assert client.put(ME, keep, format="json").status_code == 200
    answer = client.put(ME, {**keep, "on_call": False}, format="json")
    assert answer.status_code == 400 and "on_call" in answer.json()
    assert NotificationPreference.objects.get(user=cast["olga"]).on_call is True


def test_an_admin_may_take_on_call_duty(cast):
    answer = client_for(cast["root"]).put(ME, valid(on_call=True), format="json")
    assert answer.status_code == 200
    assert NotificationPreference.objects.get(user=cast["root"]).on_call is True


def test_preferences_need_a_role(cast, django_user_model):
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    assert client_for(outsider).get(ME).status_code == 403
    assert APIClient().get(ME).status_code in (401, 403)


# ---------------------------------------------------------------- deliveries


def _deliveries(west, east):
    now = timezone.now()
    west_alert = make_alert(west, "HIGH")
    east_alert = make_alert(east, "CRITICAL")
    made = {
        "west_mail": Notification.objects.create(
            alert=west_alert,
            channel="email",
            recipient="alice@example.com",
            reason="site_team",
            status="sent",
            created_at=now,
        ),
        "west_hook": Notification.objects.create(
            alert=west_alert,
            channel="webhook",
            recipient="https://hooks.example.com/services/T0/s3cret",
            reason="site_team",
            status="failed",
            attempts=5,
            last_error="webhook hooks.example.com answered 500",
            created_at=now,
        ),
        "east_mail": Notification.objects.create(
            alert=east_alert,
            channel="email",
            recipient="bob@example.com",
            reason="site_team",
            created_at=now,
        ),
    }
    return west_alert, east_alert, made


def ids(answer) -> set[int]:
    assert answer.status_code == 200, answer.json()
    return {row["id"] for row in answer.json()["results"]}


def test_an_operator_lists_only_deliveries_of_alerts_in_scope(cast, west, east):
    _, _, made = _deliveries(west, east)
    assert ids(client_for(cast["alice"]).get(LIST)) == {
        made["west_mail"].pk,
        made["west_hook"].pk,
    }
    assert ids(client_for(cast["bob"]).get(LIST)) == {made["east_mail"].pk}
    assert ids(client_for(cast["mona"]).get(LIST)) == {n.pk for n in made.values()}


def test_deliveries_filter_by_alert_status_and_channel(cast, west, east):
    west_alert, east_alert, made = _deliveries(west, east)
    manager = client_for(cast["mona"])
    assert ids(manager.get(LIST, {"alert_id": str(east_alert.pk)})) == {made["east_mail"].pk}
    assert ids(manager.get(LIST, {"status": "failed"})) == {made["west_hook"].pk}
    assert ids(manager.get(LIST, {"channel": "email", "alert_id": str(west_alert.pk)})) == {
        made["west_mail"].pk
    }
    # An operator filtering on an alert outside their scope learns nothing about it.
    assert ids(client_for(cast["alice"]).get(LIST, {"alert_id": str(east_alert.pk)})) == set()


def test_bad_delivery_filters_are_refused_per_field(cast):
    answer = client_for(cast["mona"]).get(LIST, {"status": "lost", "alert_id": "42"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"status", "alert_id"}


def test_webhook_addresses_are_masked_except_for_their_owner(cast, west, east):
    _, _, made = _deliveries(west, east)
    hook = made["west_hook"].recipient
    rows = client_for(cast["mona"]).get(LIST, {"channel": "webhook"}).json()["results"]
    assert [r["recipient"] for r in rows] == ["https://hooks.example.com/…"]
    NotificationPreference.objects.create(
        user=cast["alice"], channels=["webhook"], webhook_url=hook, min_severity="HIGH"
    )
    rows = client_for(cast["alice"]).get(LIST, {"channel": "webhook"}).json()["results"]
    assert [r["recipient"] for r in rows] == [hook]


def test_deliveries_are_paginated(cast, west, east):
    _deliveries(west, east)
    first = client_for(cast["mona"]).get(LIST, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client_for(cast["mona"]).get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


# ---------------------------------------------------------------- the settings page


def test_the_page_needs_a_signed_in_user(client):
    answer = client.get(PAGE)
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_the_page_shows_the_form_and_ones_own_recent_notifications(client, cast, west, east):
    west_alert, east_alert, _ = _deliveries(west, east)
    client.force_login(cast["alice"])
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<label for="id_min_severity">' in html
    assert f'href="/alerts/{west_alert.pk}/"' in html  # sent to alice@example.com
    assert str(east_alert.pk) not in html  # bob's


def test_saving_on_the_page_stores_the_preference(client, cast):
    client.force_login(cast["alice"])
    answer = client.post(
        PAGE,
        {
            "channels": ["email", "webhook"],
            "min_severity": "CRITICAL",
            "webhook_url": "https://hooks.example.com/alice",
        },
    )
    assert answer.status_code == 302
    saved = NotificationPreference.objects.get(user=cast["alice"])
    assert (saved.channels, saved.min_severity) == (["email", "webhook"], "CRITICAL")
    assert "Notification preferences saved." in client.get(PAGE).content.decode()


def test_the_page_explains_what_is_wrong(client, cast):
    client.force_login(cast["alice"])
    answer = client.post(PAGE, {"channels": ["webhook"], "min_severity": "HIGH"})
    assert answer.status_code == 400
    assert "a webhook URL is required for the webhook channel" in answer.content.decode()
    assert not NotificationPreference.objects.filter(user=cast["alice"]).exists()


def test_an_operator_cannot_put_themselves_on_call_from_the_page(client, cast):
    client.force_login(cast["alice"])
    answer = client.post(PAGE, {"channels": ["email"], "min_severity": "HIGH", "on_call": "on"})
    assert answer.status_code == 302  # the disabled field keeps its value
    assert NotificationPreference.objects.get(user=cast["alice"]).on_call is False
