"""The console cast for device, site, threshold and overview tests, named like the demo
users: operator_a (US-W), operator_b (US-E), manager, ml_engineer, admin.

Users get no password (tests log in with force_login), so no slow hashing per test.
"""

import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import DeviceAlert
from alerts.severity import SLA
from fleetmon.accounts.models import Profile

ROLES = {
    "operator_a": ("operator", ["US-W"]),
    "operator_b": ("operator", ["US-E"]),
    "manager": ("manager", []),
    "ml_engineer": ("ml_engineer", []),
    "admin": ("admin", []),
}


def cast_of_roles() -> dict:
    people = {}
    for name, (role, regions) in ROLES.items():
        user = get_user_model().objects.create_user(name)
        Profile.objects.create(user=user, role=role, regions=regions)
        people[name] = user
    return people


def api_as(user) -> APIClient:
    """A session-authenticated API client (as the browser is); None: signed out."""
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def make_alert(
    device,
    *,
    at: datetime | None = None,
    severity: str = "HIGH",
    rule: str = "door_open_too_long",
    **fields,
) -> DeviceAlert:
    """A streaming alert as the worker stores it; `fields` override any column."""
    at = at or timezone.now()
    values = {
        "device": device,
        "site_id": device.site_id,
        "region": device.region,
        "alert_type": "ANOMALY_DETECTED",
        "severity": severity,
        "source": "streaming",
        "title": f"{rule} on device {device.device_id}",
        "description": f"{rule} fired",
        "model_id": rule,
        "models_flagging": [rule],
        # Unique per alert: several crafted alerts may share a device, rule and time.
        "dedup_key": f"{device.device_id}|{rule}|{uuid.uuid4().hex[:8]}",
        "first_detected_at": at,
        "alert_created_at": at,
        "last_seen_at": at,
        "sla_deadline": at + SLA[severity],
        **fields,
    }
    return DeviceAlert.objects.create(**values)
