"""The two transports: e-mail through Django's mail backend, and a JSON webhook over HTTP.

Each raises TransientDeliveryError when trying again later may help (network, timeouts,
5xx, 429, SMTP trouble) and PermanentDeliveryError when it cannot (the receiver refuses the
request), so the task retries only what is worth retrying.
"""

from __future__ import annotations

import smtplib

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts.notifications.messages import Message
from alerts.notifications.routing import EMAIL, WEBHOOK


class DeliveryError(Exception):
    """A delivery did not go through; the message says why."""


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


def timeout_seconds() -> float:
    return float(getattr(settings, "FLEETMON_NOTIFY_TIMEOUT_SECONDS", 5))


def send_email(recipient: str, message: Message) -> None:
    sender = getattr(settings, "FLEETMON_ALERT_EMAIL_FROM", "") or settings.DEFAULT_FROM_EMAIL
    try:
        # A timeout on the connection: Django's SMTP backend waits forever by default.
        with get_connection(timeout=timeout_seconds()) as connection:
            EmailMessage(
                message.subject, message.text, sender, [recipient], connection=connection
            ).send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentDeliveryError(f"the mail server refused {recipient}: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientDeliveryError(f"e-mail to {recipient} failed: {exc!r}") from exc


def post_webhook(url: str, message: Message) -> None:
    try:
        response = httpx.post(url, json=message.payload, timeout=timeout_seconds())
    except httpx.InvalidURL as exc:
        raise PermanentDeliveryError(f"webhook URL is not valid: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TransientDeliveryError(f"webhook {_host(url)} unreachable: {exc!r}") from exc
    if response.is_success:
        return
    detail = f"webhook {_host(url)} answered {response.status_code}: {response.text[:200]}"
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientDeliveryError(detail)
    raise PermanentDeliveryError(detail)


SENDERS = {EMAIL: send_email, WEBHOOK: post_webhook}


def _host(url: str) -> str:
    # Webhook URLs often carry a secret in their path: name only the host in errors.
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"
