"""Site API and pages: device counts, devices in alert, health roll-up, open alerts; scoped."""

import pytest

from tests.conftest import register_devices
from tests.registry.console_cast import api_as, cast_of_roles, make_alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return cast_of_roles()


@pytest.fixture
def fleet(db):
    """West site 1: 3 devices, one critical with two open alerts, one warning, one inactive;
    west site 3: healthy; east site 2: one device."""
    west = register_devices(3, region="US-W", site_no=1)
    west[0].health_status, west[0].latest_anomaly_score = "critical", 0.9
    west[1].health_status, west[1].latest_anomaly_score = "warning", 0.5
    west[2].is_active = False
    for device in west:
        device.save()
    calm = register_devices(1, region="US-W", site_no=3)
    east = register_devices(1, region="US-E", site_no=2)
    first = make_alert(west[0], severity="CRITICAL", rule="compressor_overload")
    make_alert(west[0], severity="HIGH")
    make_alert(west[0], rule="dup", suppressed=True, suppressed_by=first)
    make_alert(west[1], severity="MEDIUM", status="resolved")
    return {"west": west, "calm": calm, "east": east}


def test_sites_list_rolls_up_devices_and_alerts_within_scope(people, fleet):
    body = api_as(people["operator_a"]).get("/api/v1/sites/").json()
    sites = {s["site_id"]: s for s in body["results"]}
    west_site, calm_site = fleet["west"][0].site_id, fleet["calm"][0].site_id
    assert set(sites) == {west_site, calm_site}  # US-E is not operator_a's
    west = sites[west_site]
    assert (west["device_count"], west["devices_in_alert"], west["open_alert_count"]) == (2, 1, 2)
    assert west["devices_by_health"] == {"healthy": 0, "warning": 1, "critical": 1, "offline": 0}
    assert west["health_status"] == "critical"
    assert west["avg_anomaly_score"] == pytest.approx(0.7)
    assert (sites[calm_site]["health_status"], sites[calm_site]["devices_in_alert"]) == (
        "healthy",
        0,
    )
    assert body["count"] == 2
    everything = api_as(people["manager"]).get("/api/v1/sites/").json()
    assert everything["count"] == 3


def test_site_detail_lists_devices_worst_first_and_open_alerts(people, fleet):
    site_id = fleet["west"][0].site_id
    body = api_as(people["operator_a"]).get(f"/api/v1/sites/{site_id}/").json()
    assert [d["device_id"] for d in body["devices"]] == [
        fleet["west"][0].device_id,
        fleet["west"][1].device_id,
        fleet["west"][2].device_id,  # inactive last
    ]
    assert [d["open_alert_count"] for d in body["devices"]] == [2, 0, 0]
    assert sorted(a["severity"] for a in body["open_alerts"]) == ["CRITICAL", "HIGH"]


def test_sites_of_another_region_are_not_found(client, people, fleet):
    west_site = fleet["west"][0].site_id
    assert api_as(people["operator_b"]).get(f"/api/v1/sites/{west_site}/").status_code == 404
    client.force_login(people["operator_b"])
    assert client.get(f"/sites/{west_site}/").status_code == 404
    page = client.get("/sites/").content.decode()
    assert fleet["east"][0].site_id in page and west_site not in page


def test_the_site_pages_render_devices_and_alerts(client, people, fleet):
    client.force_login(people["operator_a"])
    listing = client.get("/sites/?q=store 1").content.decode()
    assert f'data-site="{fleet["west"][0].site_id}"' in listing
    assert f'data-site="{fleet["calm"][0].site_id}"' not in listing
    page = client.get(f"/sites/{fleet['west'][0].site_id}/").content.decode()
    assert f'href="/devices/{fleet["west"][0].device_id}/"' in page
    assert "compressor_overload on device" in page
    assert "health-critical" in page
