"""Out of service through the service and the API: who may take a device out, in which
scope, the audit row, bad input per field, return by hand and at "until", and the overview
figures that leave the device out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import DeviceAlert
from fleetmon.registry.models import Device, OutOfServicePeriod
from fleetmon.registry.out_of_service import (
    device_take_out_of_service,
    out_of_service_expire,
)
from fleetmon.registry.overview import fleet_overview
from tests.alerts.alert_cast import api_as, cast, east, make_alert, west  # noqa: F401

pytestmark = pytest.mark.django_db


def take_out(user, device, body):
    return api_as(user).post(f"/api/v1/devices/{device.pk}/out-of-service/", body, format="json")


def give_back(user, device, body=None):
    return api_as(user).post(
        f"/api/v1/devices/{device.pk}/return-to-service/", body or {}, format="json"
    )


def body(hours: float = 6, reason: str = "compressor swapped, refrigerant recharge") -> dict:
    return {"reason": reason, "until": (timezone.now() + timedelta(hours=hours)).isoformat()}


def test_an_operator_takes_a_device_out_of_service_and_it_is_audited(cast, west):  # noqa: F811
    device = west[0]
    given = body()
    response = take_out(cast["operator_a"], device, given)
    assert response.status_code == 200, response.content
    shown = response.json()["out_of_service"]
    assert (shown["reason"], shown["taken_by"]) == (given["reason"], "operator_a")
    period = OutOfServicePeriod.objects.get(device=device)
    assert (period.taken_by, period.reason, period.ended_at) == (
        "operator_a",
        given["reason"],
        None,
    )
    device.refresh_from_db()
    assert device.out_of_service_until == period.until
    assert device.is_out_of_service(timezone.now())


def test_the_device_page_and_api_show_it(cast, west):  # noqa: F811
    device = west[0]
    device_take_out_of_service(
        device_id=device.pk,
        actor="admin",
        reason="store refit",
        until=timezone.now() + timedelta(days=2),
    )
    detail = api_as(cast["manager"]).get(f"/api/v1/devices/{device.pk}/").json()
    assert detail["out_of_service"]["reason"] == "store refit"
    client = api_as(cast["operator_a"])
    page = client.get(f"/devices/{device.pk}/").content.decode()
    assert "Out of service until" in page and "store refit" in page
    site = client.get(f"/api/v1/sites/{device.site_id}/").json()
    listed = {d["device_id"]: d["out_of_service_until"] for d in site["devices"]}
    assert listed[device.pk] is not None and listed[west[1].pk] is None


@pytest.mark.parametrize("who", ["manager", "ml_engineer"])
def test_read_only_roles_may_not_take_a_device_out(cast, west, who):  # noqa: F811
    assert take_out(cast[who], west[0], body()).status_code == 403
    assert not OutOfServicePeriod.objects.exists()


def test_an_operator_of_another_region_gets_404(cast, west):  # noqa: F811
    assert take_out(cast["operator_b"], west[0], body()).status_code == 404
    device_take_out_of_service(
        device_id=west[0].pk, actor="admin", reason="x", until=timezone.now() + timedelta(hours=1)
    )
    assert give_back(cast["operator_b"], west[0]).status_code == 404
    assert Device.objects.get(pk=west[0].pk).is_out_of_service(timezone.now())


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"until": "2030-01-01T00:00:00Z"}, "reason"),
        ({"reason": "  ", "until": "2030-01-01T00:00:00Z"}, "reason"),
        ({"reason": "x"}, "until"),
        ({"reason": "x", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"reason": "x", "until": "soon"}, "until"),
        ({"reason": "x", "until": "2099-01-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_input_is_refused_per_field(cast, west, given, field):  # noqa: F811
    response = take_out(cast["operator_a"], west[0], given)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not OutOfServicePeriod.objects.exists()


def test_taking_it_out_twice_is_a_conflict(cast, west):  # noqa: F811
    assert take_out(cast["operator_a"], west[0], body()).status_code == 200
    response = take_out(cast["admin"], west[0], body(hours=1))
    assert response.status_code == 409
    assert "already out of service" in response.json()["detail"]


def test_returning_it_by_hand_is_audited(cast, west):  # noqa: F811
    device = west[0]
    take_out(cast["operator_a"], device, body())
    response = give_back(cast["admin"], device, {"note": "repair done early"})
    assert response.status_code == 200, response.content
    assert response.json()["out_of_service"] is None
    period = OutOfServicePeriod.objects.get(device=device)
    assert (period.ended_by, period.end_note) == ("admin", "repair done early")
    assert period.ended_at is not None
    assert give_back(cast["admin"], device).status_code == 409


def test_it_returns_to_service_by_itself_at_until(west):  # noqa: F811
    device, now = west[0], timezone.now()
    device_take_out_of_service(
        device_id=device.pk, actor="operator_a", reason="x", until=now + timedelta(hours=2), now=now
    )
    later = now + timedelta(hours=2, seconds=1)
    device.refresh_from_db()
    assert device.is_out_of_service(now + timedelta(hours=1))
    assert not device.is_out_of_service(later)  # before any sweep
    assert out_of_service_expire(now=now + timedelta(hours=1)) == 0
    assert out_of_service_expire(now=later) == 1
    period = OutOfServicePeriod.objects.get(device=device)
    assert (period.ended_by, period.ended_at) == ("system", later)
    device.refresh_from_db()
    assert device.out_of_service_until is None
    assert out_of_service_expire(now=later) == 0


def test_an_out_of_service_device_drops_out_of_the_overview(west):  # noqa: F811
    now = timezone.now()
    out, kept = west
    for device in west:
        make_alert(device, at=now - timedelta(hours=1), severity="HIGH")
    device_take_out_of_service(
        device_id=out.pk, actor="admin", reason="refit", until=now + timedelta(days=1), now=now
    )
    figures = fleet_overview(
        devices=Device.objects.all(), alerts=DeviceAlert.objects.all(), now=now
    )
    assert figures["devices"]["active"] == 1
    assert figures["devices"]["out_of_service"] == 1
    assert figures["week_over_week"]["this_week"]["HIGH"] == 1
    high = figures["sla"]["HIGH"]
    assert high["met"] + high["breached"] + high["pending"] == 1
