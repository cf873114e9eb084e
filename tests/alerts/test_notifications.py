"""Notifications end to end: routing over the database, e-mail and webhook delivery, retries,
after-commit hooks, and the real Celery worker.

Retry tests run the delivery task eagerly with `Task.apply()` (Celery runs each retry at
once, skipping the countdown); the worker test runs everything through Redis and a real
worker thread.
"""

import time

import pytest
from django.db import transaction

from alerts import workflow
from alerts.models import AlertEvent, Notification
from alerts.notifications.services import alert_route
from alerts.notifications.tasks import MAX_TRIES, backoff_seconds, deliver_notification_task
from alerts.streaming import alerts_from_firings
from tests.alerts.notification_fixtures import *  # noqa: F403 - the cast and stand-ins
from tests.alerts.notification_fixtures import make_alert
from tests.alerts.test_websocket import overload
from tests.conftest import _free_port


def rows(alert) -> set[tuple[str, str, str]]:
    return {(n.channel, n.recipient, n.reason) for n in Notification.objects.filter(alert=alert)}


def deliver_all(ids) -> None:
    for notification_id in ids:
        deliver_notification_task.apply(args=[notification_id])


# ---------------------------------------------------------------- routing over the database


def test_medium_alert_goes_to_the_site_team_by_email(cast, west):
    alert = make_alert(west, "MEDIUM")
    alert_route(alert_id=alert.pk)
    # alice covers the region, sam the site; bob (US-E), olga (on call, but not CRITICAL)
    # and mona (a manager) hear nothing.
    assert rows(alert) == {
        ("email", "alice@example.com", "site_team"),
        ("email", "sam@example.com", "site_team"),
    }


def test_critical_alert_also_goes_to_on_call_and_the_team_webhook(cast, west, settings):
    settings.FLEETMON_ALERT_WEBHOOK_URL = "https://chat.example.com/hooks/ops"
    alert = make_alert(west, "CRITICAL")
    alert_route(alert_id=alert.pk)
    assert rows(alert) == {
        ("email", "alice@example.com", "site_team"),
        ("email", "sam@example.com", "site_team"),
        ("email", "olga@example.com", "on_call"),
        ("webhook", "https://chat.example.com/hooks/ops", "team_channel"),
    }


def test_an_operator_of_another_region_gets_nothing(cast, east):
    alert = make_alert(east, "CRITICAL")
    alert_route(alert_id=alert.pk)
    assert {r for _, r, _ in rows(alert)} == {"bob@example.com", "olga@example.com"}


def test_saved_preferences_decide_channels_and_minimum_severity(cast, west, webhook_server):
    from alerts.models import NotificationPreference

    NotificationPreference.objects.create(
        user=cast["alice"],
        channels=["webhook"],
        min_severity="HIGH",
        webhook_url=webhook_server.url,
    )
    medium = make_alert(west, "MEDIUM", dedup_key="a")
    high = make_alert(west, "HIGH", dedup_key="b")
    alert_route(alert_id=medium.pk)
    alert_route(alert_id=high.pk)
    assert "alice@example.com" not in {r for _, r, _ in rows(medium) | rows(high)}
    assert ("webhook", webhook_server.url, "site_team") in rows(high)
    assert webhook_server.url not in {r for _, r, _ in rows(medium)}


def test_inactive_users_are_not_notified(cast, west):
    cast["alice"].is_active = False
    cast["alice"].save()
    alert = make_alert(west, "HIGH")
    alert_route(alert_id=alert.pk)
    assert rows(alert) == {("email", "sam@example.com", "site_team")}


def test_suppressed_alert_routes_to_nobody(cast, west):
    first = make_alert(west, "CRITICAL")
    repeat = make_alert(west, "CRITICAL", suppressed=True, suppressed_by=first)
    assert alert_route(alert_id=repeat.pk) == []
    assert not Notification.objects.filter(alert=repeat).exists()


def test_routing_the_same_alert_again_sends_nothing_twice(cast, west, mailoutbox):
    alert = make_alert(west, "HIGH")
    deliver_all(alert_route(alert_id=alert.pk))
    assert len(mailoutbox) == 2
    assert alert_route(alert_id=alert.pk) == []
    assert Notification.objects.filter(alert=alert).count() == 2
    assert len(mailoutbox) == 2


# ---------------------------------------------------------------- channels


def test_email_lands_in_the_outbox_with_title_and_link(cast, west, mailoutbox, settings):
    settings.SITE_ROOT = "https://fleetmon.example.com"
    alert = make_alert(west, "HIGH")
    deliver_all(alert_route(alert_id=alert.pk))
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "sam@example.com"]
    mail = mailoutbox[0]
    assert mail.subject == f"[FleetMon HIGH] {alert.title}"
    assert f"https://fleetmon.example.com/alerts/{alert.pk}/" in mail.body
    assert f"Device: {west.device_id}" in mail.body
    sent = Notification.objects.filter(alert=alert)
    assert {(n.status, n.attempts) for n in sent} == {("sent", 1)}
    assert all(n.sent_at is not None for n in sent)


def test_webhook_receives_slack_compatible_json(cast, west, webhook_server, settings):
    settings.FLEETMON_ALERT_WEBHOOK_URL = webhook_server.url
    settings.SITE_ROOT = "https://fleetmon.example.com"
    alert = make_alert(west, "HIGH")
    alert_route(alert_id=alert.pk)
    hook = Notification.objects.get(alert=alert, channel="webhook")
    assert deliver_notification_task.apply(args=[hook.pk]).get() == "sent"
    [body] = webhook_server.bodies
    url = f"https://fleetmon.example.com/alerts/{alert.pk}/"
    assert alert.title in body["text"] and url in body["text"]
    assert body["alert_id"] == str(alert.pk)
    assert (body["severity"], body["device_id"], body["site_id"]) == (
        "HIGH",
        west.device_id,
        west.site_id,
    )
    assert (body["title"], body["url"], body["reason"]) == (alert.title, url, "team_channel")
    assert webhook_server.paths == ["/services/T0/B0/s3cret"]


def _webhook_notification(alert, url) -> Notification:
    from django.utils import timezone

    return Notification.objects.create(
        alert=alert, channel="webhook", recipient=url, reason="site_team", created_at=timezone.now()
    )


def test_webhook_failing_twice_then_succeeding_is_retried(west, webhook_server):
    webhook_server.statuses.extend([500, 503])
    note = _webhook_notification(make_alert(west, "HIGH"), webhook_server.url)
    deliver_notification_task.apply(args=[note.pk])
    note.refresh_from_db()
    assert (note.status, note.attempts, note.last_error) == ("sent", 3, "")
    assert len(webhook_server.bodies) == 3


def test_webhook_that_always_fails_ends_failed_with_the_last_error(west, webhook_server):
    webhook_server.statuses.extend([500] * 10)
    note = _webhook_notification(make_alert(west, "HIGH"), webhook_server.url)
    deliver_notification_task.apply(args=[note.pk])
    note.refresh_from_db()
    assert (note.status, note.attempts) == ("failed", MAX_TRIES)
    assert "answered 500" in note.last_error
    assert "upstream exploded" not in note.last_error  # the receiver's answer stays out
    assert "s3cret" not in note.last_error  # the URL's secret path stays out of the record
    assert len(webhook_server.bodies) == MAX_TRIES


def test_a_webhook_that_refuses_the_request_is_not_retried(west, webhook_server):
    webhook_server.statuses.append(404)
    note = _webhook_notification(make_alert(west, "HIGH"), webhook_server.url)
    deliver_notification_task.apply(args=[note.pk])
    note.refresh_from_db()
    assert (note.status, note.attempts) == ("failed", 1)
    assert "answered 404" in note.last_error


def test_an_unreachable_mail_server_is_retried_then_recorded(cast, west, settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()  # nobody listens
    alert = make_alert(west, "HIGH")
    deliver_all(alert_route(alert_id=alert.pk))
    failed = Notification.objects.filter(alert=alert)
    assert {(n.status, n.attempts) for n in failed} == {("failed", MAX_TRIES)}
    assert all("refused" in n.last_error.lower() for n in failed)


def test_a_sent_notification_is_not_sent_again(west, webhook_server):
    note = _webhook_notification(make_alert(west, "HIGH"), webhook_server.url)
    assert deliver_notification_task.apply(args=[note.pk]).get() == "sent"
    assert deliver_notification_task.apply(args=[note.pk]).get() == "skipped"
    assert len(webhook_server.bodies) == 1


def test_retries_back_off_exponentially(settings):
    settings.FLEETMON_NOTIFY_RETRY_BASE_SECONDS = 30
    assert [backoff_seconds(n) for n in range(MAX_TRIES - 1)] == [30, 60, 120, 240]


# ---------------------------------------------------------------- hooks, after commit


def test_a_new_alert_is_routed_only_once_committed(
    cast, west, notify_on_save, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        alert = make_alert(west, "CRITICAL")
        assert mailoutbox == [] and not Notification.objects.exists()
    for callback in callbacks:  # the commit
        callback()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "alice@example.com",
        "olga@example.com",
        "sam@example.com",
    ]
    assert all(m.subject.endswith(alert.title) for m in mailoutbox)


def test_nothing_is_sent_when_the_transaction_rolls_back(
    transactional_db, cast, west, notify_on_save, eager, mailoutbox
):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_alert(west, "CRITICAL")
        raise RuntimeError("scoring run failed")
    assert mailoutbox == [] and not Notification.objects.exists()
    make_alert(west, "CRITICAL")  # the same alert, committed this time
    assert len(mailoutbox) == 3


def test_a_suppressed_alert_queues_no_routing(
    cast, west, notify_on_save, eager, mailoutbox, django_capture_on_commit_callbacks
):
    first = make_alert(west, "LOW")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_alert(west, "CRITICAL", suppressed=True, suppressed_by=first)
    assert callbacks == [] and mailoutbox == []


def test_an_escalation_notifies_whom_it_adds(
    cast, west, notify_on_save, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alert = make_alert(west, "MEDIUM")
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "sam@example.com"]
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(
            alert_id=alert.pk,
            actor="alice",
            level="L2",
            to="regional@example.com",
            reason="compressor keeps tripping",
        )
    # The regional engineer and the on-call manager; the site team was already told.
    assert sorted(m.to[0] for m in mailoutbox) == ["olga@example.com", "regional@example.com"]
    assert all("escalated to L2" in m.subject for m in mailoutbox)


def test_a_severity_raised_by_scoring_reaches_on_call(
    cast, west, notify_on_save, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alert = make_alert(west, "HIGH")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        alert.severity = "CRITICAL"
        alert.save(update_fields=["severity"])
        AlertEvent.objects.create(
            alert=alert,
            kind="escalated",
            actor="scoring",
            note="HIGH -> CRITICAL",
            at=alert.alert_created_at,
        )
    assert [m.to[0] for m in mailoutbox] == ["olga@example.com"]


# ---------------------------------------------------------------- the real worker


@pytest.mark.live
def test_a_streaming_critical_alert_is_delivered_by_the_celery_worker(
    celery_worker, cast, west, notify_on_save, webhook_server, mailoutbox, settings, now
):
    settings.FLEETMON_ALERT_WEBHOOK_URL = webhook_server.url
    assert alerts_from_firings([overload(west.device_id, now)]) == 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = list(Notification.objects.values_list("status", flat=True))
        if len(statuses) == 4 and set(statuses) == {"sent"}:
            break
        time.sleep(0.2)
    assert sorted(Notification.objects.values_list("channel", "recipient")) == [
        ("email", "alice@example.com"),
        ("email", "olga@example.com"),
        ("email", "sam@example.com"),
        ("webhook", webhook_server.url),
    ]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mailoutbox) == [
        "alice@example.com",
        "olga@example.com",
        "sam@example.com",
    ]
    [body] = webhook_server.bodies
    assert (body["severity"], body["device_id"]) == ("CRITICAL", west.device_id)
