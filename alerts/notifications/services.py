"""Notification writes: route an alert into Notification rows, attempt one delivery, save a
user's preferences. Routing itself is the pure `routing.route`; this is the database side."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import DeviceAlert, Notification, NotificationPreference
from alerts.notifications.channels import (
    SENDERS,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alerts.notifications.messages import compose
from alerts.notifications.routing import (
    CHANNELS,
    EMAIL,
    LOWEST_NOTIFIED,
    RANK,
    WEBHOOK,
    AlertFacts,
    Person,
    route,
)
from alerts.notifications.webhook_guard import UnsafeWebhookURL, webhook_target
from fleetmon.accounts.models import Profile, Role

logger = logging.getLogger(__name__)

NOTIFIABLE_SEVERITIES = tuple(s for s in RANK if RANK[s] >= RANK[LOWEST_NOTIFIED])


def team_webhook() -> str:
    return getattr(settings, "FLEETMON_ALERT_WEBHOOK_URL", "") or ""


def facts_of(alert: DeviceAlert) -> AlertFacts:
    return AlertFacts(
        severity=alert.severity,
        region=alert.region,
        site_id=alert.site_id,
        status=alert.status,
        suppressed=alert.suppressed,
        escalation_level=alert.escalation_level,
        escalated_to=alert.escalated_to,
    )


def people_for(alert: DeviceAlert) -> list[Person]:
    """The operators whose scope covers the alert, and every on-call user."""
    in_scope = Q(profile__role=Role.OPERATOR) & (
        Q(profile__regions__contains=[alert.region]) | Q(profile__sites__contains=[alert.site_id])
    )
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(in_scope | Q(notification_preference__on_call=True))
        .select_related("profile", "notification_preference")
        .order_by("pk")
    )
    return [_person(user) for user in users]


def _person(user) -> Person:
    profile = _related(user, "profile")
    preference = _related(user, "notification_preference")
    is_operator = profile is not None and profile.role == Role.OPERATOR
    scope = {
        "is_operator": is_operator,
        "regions": tuple(profile.regions) if is_operator else (),
        "sites": tuple(profile.sites) if is_operator else (),
    }
    if preference is None:
        return Person(username=user.get_username(), email=user.email, **scope)
    return Person(
        username=user.get_username(),
        email=user.email,
        channels=tuple(preference.channels),
        min_severity=preference.min_severity,
        webhook_url=preference.webhook_url,
        on_call=preference.on_call,
        **scope,
    )


def _related(user, name: str):
    try:
        return getattr(user, name)
    except ObjectDoesNotExist:
        return None


def alert_route(*, alert_id, round: int = 0, now: datetime | None = None) -> list[int]:
    """Create the Notification rows the alert calls for now; return the ids of new rows.

    Idempotent: a (alert, channel, recipient) already recorded is left alone, so routing
    again after an escalation reaches only the recipients it adds. Within a storm, a
    recipient already told of one of its alerts is not told again.
    """
    now = now or timezone.now()
    alert = DeviceAlert.objects.filter(pk=alert_id).first()
    if alert is None:
        return []
    if alert.shelved_until is not None and alert.shelved_until > now:
        # Shelved (alerts.shelving): silent until it comes back, when it is routed again.
        logger.info("alert %s is shelved: not routed", alert_id)
        return []
    deliveries = route(facts_of(alert), people_for(alert), team_webhook=team_webhook())
    if alert.storm_id:
        # A storm is one incident (runbook streaming-alert-storm): whoever has heard of one
        # of its alerts is not told of each of the hundreds that follow.
        told = set(
            Notification.objects.filter(alert__storm_id=alert.storm_id)
            .exclude(alert=alert)
            .values_list("channel", "recipient")
        )
        deliveries = [d for d in deliveries if (d.channel, d.recipient) not in told]
    created_ids = []
    with transaction.atomic():
        for delivery in deliveries:
            row, created = Notification.objects.get_or_create(
                alert=alert,
                channel=delivery.channel,
                recipient=delivery.recipient,
                round=round,
                defaults={"reason": delivery.reason, "created_at": now},
            )
            if created:
                created_ids.append(row.pk)
    logger.info(
        "alert %s routed: %d deliveries, %d new", alert_id, len(deliveries), len(created_ids)
    )
    return created_ids


def notification_attempt(*, notification_id: int, final: bool, now: datetime | None = None) -> str:
    """Try one delivery and record it; return the resulting status.

    Raises TransientDeliveryError after recording when a later try may succeed and this
    was not the `final` one. The row is locked while sending, so a duplicate task for the
    same row skips it instead of sending twice.
    """
    now = now or timezone.now()
    error: DeliveryError | None = None
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert")
            .filter(pk=notification_id, status=Notification.Status.PENDING)
            .first()
        )
        if row is None:  # sent, failed, deleted with its alert, or in another worker's hands
            return "skipped"
        row.attempts += 1
        try:
            sender = SENDERS.get(row.channel)
            if sender is None:
                raise PermanentDeliveryError(f"unknown channel {row.channel!r}")
            sender(row.recipient, compose(row.alert, reason=row.reason))
        except DeliveryError as exc:
            error = exc
        if error is None:
            row.status, row.sent_at, row.last_error = Notification.Status.SENT, now, ""
        else:
            row.last_error = str(error)
            retry = isinstance(error, TransientDeliveryError) and not final
            row.status = Notification.Status.PENDING if retry else Notification.Status.FAILED
        row.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    logger.info(
        "notification %s (%s) attempt %d: %s", row.pk, row.channel, row.attempts, row.status
    )
    if row.status == Notification.Status.PENDING:
        raise error
    return row.status


# ---------------------------------------------------------------- preferences


def preference_of(user) -> NotificationPreference:
    """The user's saved preference, or the defaults routing applies (unsaved)."""
    saved = NotificationPreference.objects.filter(user=user).first()
    if saved is not None:
        return saved
    return NotificationPreference(user=user, channels=[EMAIL], min_severity=LOWEST_NOTIFIED)


def preference_save(
    *,
    user,
    profile: Profile,
    channels: Iterable[str],
    min_severity: str,
    webhook_url: str = "",
    on_call: bool | None = None,
) -> NotificationPreference:
    """Validate and save the user's own preference. Errors are per field."""
    current = preference_of(user)
    on_call = current.on_call if on_call is None else on_call
    channels = set(channels)
    chosen = [c for c in CHANNELS if c in channels]
    errors: dict[str, list[str]] = {}
    if channels - set(CHANNELS):
        errors["channels"] = [f"choose among {', '.join(CHANNELS)}"]
    elif EMAIL in chosen and not user.email:
        errors["channels"] = [
            "your account has no e-mail address: ask an admin to add one, or use a webhook"
        ]
    if min_severity not in NOTIFIABLE_SEVERITIES:
        errors["min_severity"] = [
            f"choose among {', '.join(NOTIFIABLE_SEVERITIES)} (LOW alerts are dashboard only)"
        ]
    if WEBHOOK in chosen and not webhook_url:
        errors["webhook_url"] = ["a webhook URL is required for the webhook channel"]
    elif webhook_url:
        try:
            webhook_target(webhook_url)  # checked again at each delivery: DNS may change
        except UnsafeWebhookURL as exc:
            errors["webhook_url"] = [str(exc)]
    if on_call != current.on_call and profile.role != Role.ADMIN:
        errors["on_call"] = ["only an admin may change on-call duty"]
    if errors:
        raise ValidationError(errors)
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "channels": chosen,
            "min_severity": min_severity,
            "webhook_url": webhook_url,
            "on_call": on_call,
        },
    )
    return preference
