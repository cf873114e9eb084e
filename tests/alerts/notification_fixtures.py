"""The cast and stand-ins of the notification tests.

West (US-W) has alice (operator of the region) and sam (operator of its one site); East
(US-E) has bob. Olga is a manager on call. Mona is a manager, fleet-wide and not on call.
"""

from __future__ import annotations

import json
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

__all__ = ["cast", "eager", "east", "notify_on_save", "webhook_server", "west"]


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


class StandIn:
    """A local webhook receiver: records JSON bodies, answers the scripted statuses."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.statuses: deque[int] = deque()
        self.url = ""


@pytest.fixture
def webhook_server():
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            stand_in.bodies.append(json.loads(self.rfile.read(length)))
            stand_in.paths.append(self.path)
            status = stand_in.statuses.popleft() if stand_in.statuses else 200
            body = b"ok" if status < 400 else b"upstream exploded"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_port}/services/T0/B0/s3cret"
    yield stand_in
    server.shutdown()
    server.server_close()
