"""Notification reads, scoped to what the user may see."""

from __future__ import annotations

import re

import httpx
from django.db.models import QuerySet

from alerts.models import Notification, NotificationPreference
from alerts.notifications.routing import WEBHOOK
from fleetmon.accounts.models import Profile
from fleetmon.accounts.scopes import scope_filter


def notifications_in_scope(profile: Profile) -> QuerySet[Notification]:
    """Deliveries of the alerts the user may see, newest first."""
    return (
        Notification.objects.filter(
            scope_filter(profile, region="alert__region", site="alert__site_id")
        )
        .select_related("alert")
        .order_by("-created_at", "-pk")
    )


def notifications_received(user, preference: NotificationPreference) -> QuerySet[Notification]:
    """Deliveries sent to the user's own e-mail address or webhook, newest first."""
    addresses = [a for a in (user.email, preference.webhook_url) if a]
    return (
        Notification.objects.filter(recipient__in=addresses)
        .select_related("alert")
        .order_by("-created_at", "-pk")
    )


def shown_recipient(notification: Notification, *, own_webhook: str = "") -> str:
    """The recipient as others may see it: webhook URLs often embed a secret token, so only
    the owner sees theirs in full; everyone else sees the host."""
    if notification.channel != WEBHOOK or notification.recipient == own_webhook:
        return notification.recipient
    try:
        url = httpx.URL(notification.recipient)
    except httpx.InvalidURL:
        return "webhook"
    return f"{url.scheme}://{url.host}/…"


# Rows written before webhook errors stopped quoting the receiver's answer carry its body (or
# the network error's text) after the status; only the status (or "unreachable") is shown.
_WEBHOOK_ANSWER = re.compile(r"^(webhook \S+ (?:answered \d{3}|unreachable))")


def shown_error(last_error: str) -> str:
    """A delivery's error as users see it: a webhook's status code, never its answer."""
    match = _WEBHOOK_ANSWER.match(last_error or "")
    return match.group(1) if match else last_error
