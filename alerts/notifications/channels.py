"""The two transports: e-mail through Django's mail backend, and a JSON webhook over HTTP.

Each raises TransientDeliveryError when trying again later may help (network, timeouts,
5xx, 429, SMTP trouble) and PermanentDeliveryError when it cannot (the receiver refuses the
request), so the task retries only what is worth retrying.
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts.notifications.messages import Message
from alerts.notifications.routing import EMAIL, WEBHOOK
from alerts.notifications.webhook_guard import UnsafeWebhookURL, WebhookTarget, webhook_target

MAX_REDIRECTS = 3


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
    """POST the message to a checked address; follow up to MAX_REDIRECTS 307/308 redirects,
    each checked again. The receiver's answer body is never recorded, only its status."""
    trusted = bool(url) and url == getattr(settings, "FLEETMON_ALERT_WEBHOOK_URL", "")
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = webhook_target(url, trusted=trusted)
        except UnsafeWebhookURL as exc:
            raise PermanentDeliveryError(f"webhook refused: {exc}") from exc
        response = _post_pinned(target, message.payload)
        if response.status_code in (307, 308) and response.headers.get("location"):
            url, trusted = urljoin(url, response.headers["location"]), False
            continue
        break
    else:
        raise PermanentDeliveryError(f"webhook {target.host}: more than {MAX_REDIRECTS} redirects")
    if response.is_success:
        return
    detail = f"webhook {target.host} answered {response.status_code}"
    if response.is_redirect:
        raise PermanentDeliveryError(
            f"{detail}, a redirect that would turn the POST into a GET: use the final URL"
        )
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientDeliveryError(detail)
    raise PermanentDeliveryError(detail)


def _post_pinned(target: WebhookTarget, payload: dict) -> httpx.Response:
    """POST to the checked addresses themselves, never to a second resolution of the name;
    the Host header and TLS (SNI and certificate) still name the host."""
    parts = urlsplit(target.url)
    default_port = target.port == (443 if target.scheme == "https" else 80)
    named = f"[{target.host}]" if ":" in target.host else target.host
    host_header = named if default_port else f"{named}:{target.port}"
    # user:password@ of the URL (basic auth) stays in front of the pinned address.
    userinfo = parts.netloc.rpartition("@")[0]
    error: Exception | None = None
    # trust_env=False: an HTTP(S)_PROXY would resolve the name again, out of our sight.
    # The certificate is verified against the host's name (sni_hostname), not the address.
    bundle = getattr(settings, "FLEETMON_WEBHOOK_CA_BUNDLE", "")
    verify = ssl.create_default_context(cafile=bundle) if bundle else True
    with httpx.Client(timeout=timeout_seconds(), trust_env=False, verify=verify) as client:
        for address in target.addresses:
            literal = f"[{address}]" if ":" in address else address
            netloc = (
                f"{userinfo}@{literal}:{target.port}" if userinfo else f"{literal}:{target.port}"
            )
            pinned = parts._replace(netloc=netloc).geturl()
            request = client.build_request(
                "POST",
                pinned,
                json=payload,
                headers={"Host": host_header},
                extensions={"sni_hostname": target.host},
            )
            try:
                # Streamed and closed unread: only the status and headers are used, so a
                # receiver's answer is never held, however large.
                response = client.send(request, stream=True)
                response.close()
                return response
            except httpx.TimeoutException as exc:
                raise TransientDeliveryError(f"webhook {target.host} timed out") from exc
            except httpx.HTTPError as exc:
                error = exc  # the next address may answer
    # The exception's class, not its text: that could describe the receiver's network.
    raise TransientDeliveryError(
        f"webhook {target.host} unreachable ({type(error).__name__})"
    ) from error


SENDERS = {EMAIL: send_email, WEBHOOK: post_webhook}
