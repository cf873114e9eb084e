"""The cast and stand-ins of the notification tests.

West (US-W) has alice (operator of the region) and sam (operator of its one site); East
(US-E) has bob. Olga is a manager on call. Mona is a manager, fleet-wide and not on call.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from alerts.models import DeviceAlert, NotificationPreference
from alerts.notifications import signals
from fleetmon.accounts.models import Profile
from tests.conftest import register_devices

__all__ = ["cast", "dns", "eager", "east", "notify_on_save", "webhook_server", "west"]

# What a public receiver's name resolves to in these tests (there is no DNS here).
PUBLIC_ADDRESS = "93.184.216.34"


def make_user(django_user_model, name: str, role: str, *, regions=(), sites=(), email=None):
    user = django_user_model.objects.create_user(
        name, password="pw", email=f"{name}@example.com" if email is None else email
    )
    Profile.objects.create(user=user, role=role, regions=list(regions), sites=list(sites))
    return user


def make_alert(device, severity: str, **fields) -> DeviceAlert:
    now = timezone.now()
    values = {
        "device": device,
        "site_id": device.site_id,
        "region": device.region,
        "alert_type": "ANOMALY_DETECTED",
        "severity": severity,
        "source": DeviceAlert.Source.BATCH,
        "title": f"Compressor vibration anomaly detected on device {device.device_id}",
        "description": "vibration_compressor rising",
        "model_id": "isolation_forest",
        "dedup_key": f"{device.device_id}|isolation_forest|vibration_compressor",
        "first_detected_at": now,
        "alert_created_at": now,
        "last_seen_at": now,
        "sla_deadline": now + timedelta(hours=2),
        **fields,
    }
    return DeviceAlert.objects.create(**values)


@pytest.fixture
def west(db):
    return register_devices(1, region="US-W", site_no=1)[0]


@pytest.fixture
def east(db):
    return register_devices(1, region="US-E", site_no=2)[0]


@pytest.fixture
def cast(django_user_model, west, east):
    people = {
        "alice": make_user(django_user_model, "alice", "operator", regions=["US-W"]),
        "sam": make_user(django_user_model, "sam", "operator", sites=[west.site_id]),
        "bob": make_user(django_user_model, "bob", "operator", regions=["US-E"]),
        "olga": make_user(django_user_model, "olga", "manager"),
        "mona": make_user(django_user_model, "mona", "manager"),
        "root": make_user(django_user_model, "root", "admin"),
    }
    NotificationPreference.objects.create(
        user=people["olga"], channels=["email"], min_severity="HIGH", on_call=True
    )
    return people


@pytest.fixture
def notify_on_save():
    """The post_save hooks of alerts.notifications, whether or not AppConfig wires them."""
    already = signals.is_connected()
    signals.connect()
    yield
    if not already:
        signals.disconnect()


@pytest.fixture
def eager():
    """Celery tasks run inline (retries too, without their countdown)."""
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def dns(monkeypatch):
    """dns[name] = [addresses]: a stand-in for the system resolver (socket.getaddrinfo), so
    the webhook guard and the sender run unchanged. Names not listed, and IP literals,
    resolve as usual. hooks.example.com is a public receiver unless a test says otherwise."""
    table: dict[str, list[str]] = {"hooks.example.com": [PUBLIC_ADDRESS]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            return real(host, port, family, type, proto, flags)
        port = int(port or 0)
        answers = []
        for address in table[name]:
            if ":" in address:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class StandIn:
    """A local webhook receiver: records JSON bodies, answers the scripted statuses."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.statuses: deque[int] = deque()
        self.hosts: list[str] = []  # the Host header of each request
        self.authorizations: list[str] = []  # and its Authorization header
        self.location = ""  # sent with a redirect status
        self.url = ""


def start_receiver(stand_in: StandIn, *, tls=None) -> ThreadingHTTPServer:
    """Serve `stand_in` on a free loopback port (over TLS with the `tls` context)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            stand_in.bodies.append(json.loads(self.rfile.read(length)))
            stand_in.paths.append(self.path)
            stand_in.hosts.append(self.headers.get("Host", ""))
            stand_in.authorizations.append(self.headers.get("Authorization", ""))
            status = stand_in.statuses.popleft() if stand_in.statuses else 200
            body = b"ok" if status < 400 else b"upstream exploded"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", stand_in.location)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls is not None else "http"
    stand_in.url = f"{scheme}://127.0.0.1:{server.server_port}/services/T0/B0/s3cret"
    return server


@pytest.fixture
def webhook_server(settings):
    # On this machine the receiver is on the loopback: an on-premise receiver, allowed by name.
    settings.FLEETMON_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    stand_in = StandIn()
    server = start_receiver(stand_in)
    yield stand_in
    server.shutdown()
    server.server_close()
