"""The cast of the alert-page tests, named like the demo users.

operator_a triages US-W, operator_b triages US-E, the manager reads everything, the ML
engineer reads everything and triages nothing. West has two devices at one site; East one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import AlertEvent, DeviceAlert
from alerts.severity import SLA
from fleetmon.accounts.models import Profile
from tests.conftest import register_devices


def make_user(django_user_model, name: str, role: str, *, regions=()):
    user = django_user_model.objects.create_user(name, password="pw")
    Profile.objects.create(user=user, role=role, regions=list(regions))
    return user


def make_alert(
    device,
    *,
    at: datetime | None = None,
    severity: str = "CRITICAL",
    source: str = "streaming",
    kind: str = "compressor_overload",
    contributors: tuple[str, ...] = ("current_compressor",),
    scores: tuple[float, ...] = (47.0,),
    **fields,
) -> DeviceAlert:
    """An alert as the streaming worker or score-to-alert stores it, with its `created`
    event. `kind` is the rule id (streaming) or the model kind (batch, fallback)."""
    now = timezone.now()
    at = at or now
    model_id = kind if source == "streaming" else f"{kind}_v1"
    first = contributors[0] if contributors else ""
    alert = DeviceAlert.objects.create(
        **{
            "device": device,
            "site_id": device.site_id,
            "region": device.region,
            "alert_type": "ANOMALY_DETECTED",
            "severity": severity,
            "source": source,
            "title": f"{kind} on device {device.device_id}",
            "description": f"{kind} fired",
            "model_id": model_id,
            "models_flagging": [model_id],
            "top_contributors": list(contributors),
            "contributor_scores": list(scores),
            "dedup_key": f"{device.device_id}|{kind}|{first}",
            "window_end": None if source == "streaming" else at,
            "first_detected_at": at,
            "alert_created_at": at,
            "last_seen_at": at,
            "sla_deadline": at + SLA[severity],
            **fields,
        }
    )
    AlertEvent.objects.create(alert=alert, kind="created", actor="streaming", at=at)
    return alert


@pytest.fixture
def west(db):
    return register_devices(2, region="US-W", site_no=1)


@pytest.fixture
def east(db):
    return register_devices(1, region="US-E", site_no=2)[0]


@pytest.fixture
def cast(django_user_model):
    return {
        "operator_a": make_user(django_user_model, "operator_a", "operator", regions=["US-W"]),
        "operator_b": make_user(django_user_model, "operator_b", "operator", regions=["US-E"]),
        "manager": make_user(django_user_model, "manager", "manager"),
        "ml_engineer": make_user(django_user_model, "ml_engineer", "ml_engineer"),
        "admin": make_user(django_user_model, "admin", "admin"),
    }


def api_as(user) -> APIClient:
    """A session-authenticated API client, as the browser is."""
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)
