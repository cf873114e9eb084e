"""Monitor alerts reach people by the ladder of domain §3.7: LOW logged, MEDIUM to the team
channel, HIGH and above paged by e-mail (on-call data engineers for pipeline and data
problems, ML engineers for model and SLA ones), told again only when the severity rises."""

import pytest
from django.core import mail

from alerts.models import NotificationPreference
from fleetmon.accounts.models import Profile
from monitoring.monitors import monitor_raise
from tests.alerts.notification_fixtures import webhook_server  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(django_user_model):
    dana = django_user_model.objects.create_user("dana", email="dana@example.com")
    NotificationPreference.objects.create(user=dana, channels=["email"], on_call=True)
    mia = django_user_model.objects.create_user("mia", email="mia@example.com")
    Profile.objects.create(user=mia, role="ml_engineer")
    django_user_model.objects.create_user("otto", email="otto@example.com")  # neither


@pytest.fixture
def eager():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def raise_(layer="data", severity="HIGH", monitor="null_rate", subject="humidity"):
    return monitor_raise(
        monitor=monitor,
        layer=layer,
        subject=subject,
        severity=severity,
        title=f"{monitor} on {subject}",
        evidence={"null_rate": 0.4},
        runbook="data-null-rate",
    )[0]


@pytest.mark.parametrize(
    ("layer", "who"),
    [("data", "dana"), ("infrastructure", "dana"), ("model", "mia"), ("sla", "mia")],
)
def test_high_alerts_page_the_people_of_their_layer(people, eager, layer, who):
    raise_(layer=layer, severity="HIGH")
    assert [m.to for m in mail.outbox] == [[f"{who}@example.com"]]
    assert "/runbooks/data-null-rate/" in mail.outbox[0].body


def test_low_is_logged_and_medium_goes_to_the_team_channel_only(
    people,
    eager,
    settings,
    webhook_server,  # noqa: F811
):
    settings.FLEETMON_ALERT_WEBHOOK_URL = webhook_server.url
    raise_(severity="LOW")
    assert mail.outbox == [] and webhook_server.bodies == []
    raise_(severity="MEDIUM", subject="door_open_close")
    assert mail.outbox == []
    assert [b["monitor"] for b in webhook_server.bodies] == ["null_rate"]
    assert webhook_server.bodies[0]["text"].startswith("[MEDIUM] null_rate on door_open_close")


def test_an_alert_is_told_again_only_when_it_gets_worse(people, eager):
    raise_(severity="HIGH")
    raise_(severity="HIGH")  # still firing: the open alert is refreshed, nobody re-paged
    raise_(severity="MEDIUM")
    assert len(mail.outbox) == 1
    alert = raise_(severity="CRITICAL")
    assert len(mail.outbox) == 2 and alert.occurrences == 4
    assert mail.outbox[1].subject.startswith("[FleetMon CRITICAL data]")
