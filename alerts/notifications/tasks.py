"""Celery tasks that deliver notifications: route an alert, then one task per delivery.

Each delivery retries on its own with exponential backoff (30 s, 1, 2, 4 min by default:
five tries in about 8 minutes) and ends `failed` with the last error when none succeeds.
"""

from celery import shared_task
from django.conf import settings

from alerts.notifications.channels import TransientDeliveryError
from alerts.notifications.services import alert_route, notification_attempt

MAX_TRIES = 5


def backoff_seconds(retries: int) -> float:
    base = float(getattr(settings, "FLEETMON_NOTIFY_RETRY_BASE_SECONDS", 30))
    return base * 2**retries


@shared_task(time_limit=60, soft_time_limit=50)
def route_alert_task(alert_id: str, round: int = 0) -> int:
    """Record who hears of the alert, and start one delivery task per new recipient."""
    created = alert_route(alert_id=alert_id, round=round)
    for notification_id in created:
        deliver_notification_task.delay(notification_id)
    return len(created)


@shared_task(bind=True, max_retries=MAX_TRIES - 1, time_limit=60, soft_time_limit=50)
def deliver_notification_task(self, notification_id: int) -> str:
    """Send one notification; retried with backoff while the failure is transient."""
    final = self.request.retries >= self.max_retries
    try:
        return notification_attempt(notification_id=notification_id, final=final)
    except TransientDeliveryError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
