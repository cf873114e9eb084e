"""Notify after commit when an alert is raised or escalated.

`connect()` is called once from AlertsConfig.ready(). The routing task is queued with
`transaction.on_commit`, so nobody hears of an alert that rolled back; `robust=True` keeps a
broker outage from failing the scoring run or the request that raised the alert.
"""

from django.db import transaction
from django.db.models.signals import post_save

from alerts.models import AlertEvent, DeviceAlert

_ALERT_UID = "alerts.notifications.alert_created"
_EVENT_UID = "alerts.notifications.alert_escalated"


def queue_routing(alert_id, *, round: int = 0) -> None:
    from alerts.notifications.tasks import route_alert_task

    transaction.on_commit(lambda: route_alert_task.delay(str(alert_id), round), robust=True)


def on_alert_saved(sender, instance: DeviceAlert, created: bool, **kwargs) -> None:
    if created and not instance.suppressed:
        queue_routing(instance.pk)


def on_event_saved(sender, instance: AlertEvent, created: bool, **kwargs) -> None:
    # "escalated" covers both a higher severity from scoring (D5) and an operator or the
    # SLA sweep raising the level to L2/L3 (domain §7.3): routing again reaches whoever
    # the alert's new state adds.
    if created and instance.kind == "escalated":
        queue_routing(instance.alert_id)


def is_connected() -> bool:
    return any(key[0] == _ALERT_UID for key, *_ in post_save.receivers)


def connect() -> None:
    post_save.connect(on_alert_saved, sender=DeviceAlert, dispatch_uid=_ALERT_UID)
    post_save.connect(on_event_saved, sender=AlertEvent, dispatch_uid=_EVENT_UID)


def disconnect() -> None:
    post_save.disconnect(sender=DeviceAlert, dispatch_uid=_ALERT_UID)
    post_save.disconnect(sender=AlertEvent, dispatch_uid=_EVENT_UID)
