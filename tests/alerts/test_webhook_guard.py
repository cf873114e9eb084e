"""Webhook URLs reach public hosts only: refused when saved, refused again when sent, and the
receiver's answer never comes back to the user (SSRF, issue 12)."""

import base64
import ssl
import subprocess

import pytest
from rest_framework.test import APIClient

from alerts.models import Notification
from alerts.notifications import webhook_guard
from alerts.notifications.services import notification_attempt
from tests.alerts.notification_fixtures import *  # noqa: F403 - the cast and stand-ins
from tests.alerts.notification_fixtures import PUBLIC_ADDRESS as PUBLIC
from tests.alerts.notification_fixtures import StandIn, make_alert, start_receiver

ME = "/api/v1/notification-preferences/me/"


def save(user, url: str):
    client = APIClient()
    client.force_authenticate(user)
    body = {"channels": ["webhook"], "min_severity": "HIGH", "webhook_url": url}
    return client.put(ME, body, format="json")


def webhook_row(alert, url: str) -> Notification:
    return Notification.objects.create(
        alert=alert,
        channel="webhook",
        recipient=url,
        reason="site_team",
        created_at=alert.alert_created_at,
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:6379/", "127.0.0.1 resolves to a loopback address"),
        ("http://localhost:8000/hook", "localhost resolves to a loopback address"),
        ("http://0.0.0.0:8000/", "an unspecified address"),
        ("http://10.1.2.3/hook", "a private network address"),
        ("http://172.16.0.9/hook", "a private network address"),
        ("http://192.168.1.10/hook", "a private network address"),
        ("http://100.64.0.1/hook", "a reserved address"),  # carrier-grade NAT
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[::1]:6379/", "::1 resolves to a loopback address"),
        ("http://[fe80::1]/hook", "a link-local address"),
        ("http://[fd00::5]/hook", "a private network address"),
        ("http://[::ffff:127.0.0.1]/hook", "a loopback address"),  # IPv4-mapped
        ("http://[64:ff9b::a9fe:a9fe]/hook", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("http://[2002:a00:1::]/hook", "a private network address"),  # 6to4 of 10.0.0.1
        ("http://metadata.internal/computeMetadata/v1/", "cloud metadata"),
        ("http://rebind.example.net/hook", "a private network address"),
        ("http://nowhere.invalid/hook", "cannot be resolved"),
    ],
)
def test_webhook_urls_to_private_addresses_are_refused_when_saved(cast, dns, url, words):
    dns["metadata.internal"] = ["169.254.169.254"]
    dns["rebind.example.net"] = [PUBLIC, "10.0.0.7"]  # one private address is enough
    answer = save(cast["alice"], url)
    assert answer.status_code == 400
    [message] = answer.json()["webhook_url"]
    assert words in message
    assert "public hosts only" in message or "cannot be resolved" in message


def test_numeric_host_forms_are_judged_by_the_address_they_resolve_to(dns):
    for url in ("http://2130706433/", "http://0x7f.1/", "http://127.1:6379/"):
        with pytest.raises(webhook_guard.UnsafeWebhookURL, match="resolves to a loopback"):
            webhook_guard.webhook_target(url)


def test_a_public_webhook_host_is_saved(cast, dns):
    dns["hooks.example.com"] = [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]
    assert save(cast["alice"], "https://hooks.example.com/services/T0/x").status_code == 200


def test_the_allow_list_admits_on_premise_receivers_by_name_or_network(cast, dns, settings):
    dns["chat.plant.local"] = ["10.20.0.5"]
    dns["ops.plant.local"] = ["10.30.1.1"]
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["chat.plant.local", "10.30.0.0/16"]
    assert save(cast["alice"], "http://chat.plant.local/hooks/1").status_code == 200
    assert save(cast["alice"], "http://ops.plant.local/hooks/2").status_code == 200
    assert save(cast["alice"], "http://10.30.9.9/hooks/3").status_code == 200
    assert save(cast["alice"], "http://10.40.0.1/hooks/4").status_code == 400


def test_the_settings_page_refuses_a_private_webhook_too(cast, client, dns):
    client.force_login(cast["alice"])
    page = client.post(
        "/settings/notifications/",
        {"channels": ["webhook"], "min_severity": "HIGH", "webhook_url": "http://10.0.0.1/x"},
    )
    assert page.status_code == 400
    assert "a private network address" in page.content.decode()


def test_delivery_checks_the_address_again(west, dns, webhook_server, settings):
    # Saved while its name resolved to a public address; at delivery it points at this machine.
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = []
    port = webhook_server.url.split(":")[2].split("/")[0]
    dns["hooks.example.com"] = ["127.0.0.1"]
    note = webhook_row(make_alert(west, "HIGH"), f"http://hooks.example.com:{port}/hook")
    assert notification_attempt(notification_id=note.pk, final=True) == "failed"
    note.refresh_from_db()
    assert "hooks.example.com resolves to a loopback address" in note.last_error
    assert "127.0.0.1" not in note.last_error  # the address it resolved to is not told
    assert webhook_server.bodies == []  # nothing was sent


def test_a_redirect_to_a_private_address_is_not_followed(west, dns, webhook_server, settings):
    # The stand-in is an on-premise receiver allowed by name; it redirects to another name of
    # the same machine, which is not allowed.
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["receiver.plant.local"]
    dns["receiver.plant.local"] = ["127.0.0.1"]
    port = webhook_server.url.split(":")[2].split("/")[0]
    webhook_server.statuses.append(307)
    webhook_server.location = f"http://localhost:{port}/internal"
    url = f"http://receiver.plant.local:{port}/services/T0/B0/s3cret"
    note = webhook_row(make_alert(west, "HIGH"), url)
    assert notification_attempt(notification_id=note.pk, final=True) == "failed"
    note.refresh_from_db()
    assert "localhost resolves to a loopback address" in note.last_error
    assert webhook_server.paths == ["/services/T0/B0/s3cret"]  # /internal never reached


def test_an_allowed_redirect_is_followed_with_the_same_post(west, webhook_server):
    webhook_server.statuses.append(308)
    webhook_server.location = "/moved"
    note = webhook_row(make_alert(west, "HIGH"), webhook_server.url)
    assert notification_attempt(notification_id=note.pk, final=True) == "sent"
    assert webhook_server.paths == ["/services/T0/B0/s3cret", "/moved"]
    assert webhook_server.bodies[0] == webhook_server.bodies[1]


def test_the_sender_connects_to_the_checked_address_with_the_hosts_name(
    west, dns, webhook_server, settings
):
    # hooks.example.com resolves (once) to the loopback, allowed here by network: the request
    # goes to that address and still names the host.
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    port = webhook_server.url.split(":")[2].split("/")[0]
    dns["hooks.example.com"] = ["127.0.0.1"]
    note = webhook_row(make_alert(west, "HIGH"), f"http://hooks.example.com:{port}/hook")
    assert notification_attempt(notification_id=note.pk, final=True) == "sent"
    assert webhook_server.hosts == [f"hooks.example.com:{port}"]


def test_credentials_in_the_url_still_reach_the_receiver(west, dns, webhook_server, settings):
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    port = webhook_server.url.split(":")[2].split("/")[0]
    dns["hooks.example.com"] = ["127.0.0.1"]
    url = f"http://fleet:pa55@hooks.example.com:{port}/hook"
    note = webhook_row(make_alert(west, "HIGH"), url)
    assert notification_attempt(notification_id=note.pk, final=True) == "sent"
    assert webhook_server.authorizations == ["Basic " + base64.b64encode(b"fleet:pa55").decode()]
    assert webhook_server.hosts == [f"hooks.example.com:{port}"]


def test_users_see_the_status_of_a_failed_delivery_never_the_answer(cast, west, webhook_server):
    webhook_server.statuses.append(400)
    alert = make_alert(west, "HIGH")
    note = webhook_row(alert, webhook_server.url)
    assert notification_attempt(notification_id=note.pk, final=True) == "failed"
    # A row from before the fix, with the receiver's answer in it, is shown cut too.
    old_failure(alert, "webhook hooks.example.com answered 500: redis_version:7.0.15 ...")
    errors = sorted(n["last_error"] for n in notifications_seen_by(cast["alice"]))
    assert errors == ["webhook 127.0.0.1 answered 400", "webhook hooks.example.com answered 500"]


def test_an_old_unreachable_error_is_shown_without_the_network_details(cast, west):
    alert = make_alert(west, "HIGH")
    old_failure(alert, "webhook hooks.example.com unreachable: ConnectError(111, '10.0.0.7')")
    [row] = notifications_seen_by(cast["alice"])
    assert row["last_error"] == "webhook hooks.example.com unreachable"


def test_the_settings_page_shows_the_status_never_the_answer(cast, client, west, webhook_server):
    assert save(cast["alice"], webhook_server.url).status_code == 200  # her own webhook
    webhook_server.statuses.append(403)
    note = webhook_row(make_alert(west, "HIGH"), webhook_server.url)
    assert notification_attempt(notification_id=note.pk, final=True) == "failed"
    note.refresh_from_db()
    assert note.last_error == "webhook 127.0.0.1 answered 403"
    Notification.objects.create(
        alert=make_alert(west, "HIGH"),
        channel="webhook",
        recipient=webhook_server.url,
        reason="site_team",
        status="failed",
        last_error="webhook 127.0.0.1 answered 502: <html>internal proxy 10.9.9.9</html>",
        created_at=note.alert.alert_created_at,
    )
    client.force_login(cast["alice"])
    page = client.get("/settings/notifications/").content.decode()
    assert "answered 403" in page and "answered 502" in page
    assert "upstream exploded" not in page and "10.9.9.9" not in page


# ---------------------------------------------------------------- https receivers


def certificate(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` (its own CA) and its key, made by openssl."""
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def https_receiver(tmp_path, settings):
    """A receiver on this machine serving https with a certificate for hooks.example.com,
    trusted through FLEETMON_WEBHOOK_CA_BUNDLE; it records the TLS server names asked for."""
    cert, key = certificate(tmp_path, "hooks.example.com")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    stand_in = StandIn()
    stand_in.server_names = []
    tls.sni_callback = lambda sock, name, context: stand_in.server_names.append(name)
    server = start_receiver(stand_in, tls=tls)
    settings.FLEETMON_WEBHOOK_CA_BUNDLE = cert
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8"]
    stand_in.port = server.server_port
    yield stand_in
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_and_verifies_the_hosts_certificate(
    west, dns, https_receiver
):
    dns["hooks.example.com"] = ["127.0.0.1"]
    url = f"https://hooks.example.com:{https_receiver.port}/hook"
    note = webhook_row(make_alert(west, "HIGH"), url)
    assert notification_attempt(notification_id=note.pk, final=True) == "sent"
    assert https_receiver.server_names == ["hooks.example.com"]
    assert https_receiver.hosts == [f"hooks.example.com:{https_receiver.port}"]
    assert len(https_receiver.bodies) == 1


def test_https_to_a_name_the_certificate_does_not_cover_is_refused(west, dns, https_receiver):
    # The same machine under another name: the certificate (hooks.example.com) does not match.
    dns["other.example.com"] = ["127.0.0.1"]
    url = f"https://other.example.com:{https_receiver.port}/hook"
    note = webhook_row(make_alert(west, "HIGH"), url)
    assert notification_attempt(notification_id=note.pk, final=True) == "failed"
    note.refresh_from_db()
    assert note.last_error == "webhook other.example.com unreachable (ConnectError)"
    assert https_receiver.bodies == []


def old_failure(alert, last_error: str) -> Notification:
    """A failed webhook row as stored before the fix, with whatever error it kept."""
    return Notification.objects.create(
        alert=alert,
        channel="webhook",
        recipient="https://hooks.example.com/old",
        reason="site_team",
        status="failed",
        last_error=last_error,
        created_at=alert.alert_created_at,
    )


def notifications_seen_by(user) -> list[dict]:
    client = APIClient()
    client.force_authenticate(user)
    return client.get("/api/v1/notifications/").json()["results"]
