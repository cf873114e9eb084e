"""Auto-escalation (domain §7.3): open alerts past their SLA deadline go to L2, once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from alerts import escalation
from alerts.escalation import auto_escalate
from alerts.models import AlertEvent, DeviceAlert
from tests.alerts.alert_cast import api_as, cast, make_alert, west  # noqa: F401

SECOND = timedelta(seconds=1)


def kinds(alert) -> list[str]:
    return list(
        AlertEvent.objects.filter(alert=alert).order_by("pk").values_list("kind", flat=True)
    )


@pytest.fixture
def alert(west):  # noqa: F811
    return make_alert(west[0])  # CRITICAL: deadline 30 min after creation


@pytest.mark.django_db
def test_nothing_happens_before_or_at_the_deadline(alert):
    for now in (alert.sla_deadline - timedelta(minutes=5), alert.sla_deadline):
        assert auto_escalate(now=now) == {"breached": 0, "escalated": 0}
    alert.refresh_from_db()
    assert (alert.escalation_level, alert.sla_breached) == ("L1", False)
    assert kinds(alert) == ["created"]


@pytest.mark.django_db
def test_an_open_l1_alert_past_its_deadline_is_breached_and_escalated_to_l2(alert):
    now = alert.sla_deadline + SECOND
    assert auto_escalate(now=now) == {"breached": 1, "escalated": 1}
    alert.refresh_from_db()
    assert (alert.status, alert.escalation_level, alert.sla_breached) == ("open", "L2", True)
    assert (alert.escalated_at, alert.escalated_to) == (now, "regional engineer on call")
    event = AlertEvent.objects.filter(alert=alert).latest("pk")
    assert (event.kind, event.actor, event.note, event.at) == (
        "escalated",
        "system",
        "SLA deadline passed unacknowledged",
        now,
    )
    assert (event.details["from"], event.details["to"]) == ("L1", "L2")


@pytest.mark.django_db
def test_a_rerun_changes_nothing(alert):
    auto_escalate(now=alert.sla_deadline + SECOND)
    assert auto_escalate(now=alert.sla_deadline + timedelta(minutes=2)) == {
        "breached": 0,
        "escalated": 0,
    }
    alert.refresh_from_db()
    assert alert.escalation_level == "L2"
    assert kinds(alert) == ["created", "escalated"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["acknowledged", "in_progress", "resolved", "false_positive"])
def test_only_unacknowledged_alerts_are_escalated(alert, status):
    DeviceAlert.objects.filter(pk=alert.pk).update(status=status)
    assert auto_escalate(now=alert.sla_deadline + timedelta(hours=1))["breached"] == 0
    alert.refresh_from_db()
    assert (alert.escalation_level, alert.sla_breached) == ("L1", False)
    assert kinds(alert) == ["created"]


@pytest.mark.django_db
def test_an_alert_acknowledged_in_time_through_the_api_is_never_escalated(cast, alert):  # noqa: F811
    api_as(cast["operator_a"]).post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {})
    auto_escalate(now=alert.sla_deadline + timedelta(hours=3))
    alert.refresh_from_db()
    assert (alert.status, alert.escalation_level) == ("acknowledged", "L1")


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["L2", "L3"])
def test_an_alert_escalated_by_hand_is_only_marked_breached(alert, level):
    DeviceAlert.objects.filter(pk=alert.pk).update(escalation_level=level, escalated_to="Kim")
    assert auto_escalate(now=alert.sla_deadline + SECOND) == {"breached": 1, "escalated": 0}
    alert.refresh_from_db()
    assert (alert.escalation_level, alert.escalated_to, alert.sla_breached) == (level, "Kim", True)
    assert kinds(alert) == ["created", "sla_breached"]
    assert auto_escalate(now=alert.sla_deadline + timedelta(minutes=5))["breached"] == 0


@pytest.mark.django_db
def test_suppressed_repeats_are_left_to_their_active_alert(alert, west):  # noqa: F811
    repeat = make_alert(west[0], suppressed=True, suppressed_by=alert)
    auto_escalate(now=repeat.sla_deadline + SECOND)
    repeat.refresh_from_db()
    alert.refresh_from_db()
    assert (repeat.escalation_level, alert.escalation_level) == ("L1", "L2")


@pytest.mark.django_db
def test_every_due_alert_is_handled_across_batches(west, monkeypatch):  # noqa: F811
    monkeypatch.setattr(escalation, "BATCH", 3)
    alerts = [make_alert(west[i % 2]) for i in range(7)]
    late = max(a.sla_deadline for a in alerts) + SECOND
    assert auto_escalate(now=late) == {"breached": 7, "escalated": 7}
    assert set(DeviceAlert.objects.values_list("escalation_level", flat=True)) == {"L2"}


@pytest.mark.django_db
def test_the_beat_entry_runs_the_task_and_the_task_escalates(settings, alert):
    from alerts.tasks import auto_escalate_task

    entry = settings.CELERY_BEAT_SCHEDULE["auto-escalate-alerts"]
    assert (entry["task"], entry["schedule"]) == (auto_escalate_task.name, 60.0)
    DeviceAlert.objects.filter(pk=alert.pk).update(
        sla_deadline=alert.alert_created_at - timedelta(minutes=1)
    )
    assert auto_escalate_task.apply().get() == {"breached": 1, "escalated": 1}


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_an_operator_is_skipped_and_taken_by_the_next_run(west):  # noqa: F811
    busy, free = make_alert(west[0]), make_alert(west[1])
    late = max(busy.sla_deadline, free.sla_deadline) + SECOND
    locked, release = threading.Event(), threading.Event()

    def operator_holding_the_row():
        try:
            with transaction.atomic():
                DeviceAlert.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=operator_holding_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert auto_escalate(now=late) == {"breached": 1, "escalated": 1}
    finally:
        release.set()
        holder.join(10)
    busy.refresh_from_db()
    free.refresh_from_db()
    assert (busy.escalation_level, free.escalation_level) == ("L1", "L2")
    assert auto_escalate(now=late) == {"breached": 1, "escalated": 1}
    busy.refresh_from_db()
    assert busy.escalation_level == "L2"
