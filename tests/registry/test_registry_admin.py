"""Registry admin pages and the fleet token command."""

import pytest
from django.core.management import CommandError, call_command

from fleetmon.registry.models import FleetToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["site", "cohort", "device", "fleettoken"])
def test_admin_lists_and_add_forms_render(admin_client, devices, model):
    assert admin_client.get(f"/admin/registry/{model}/").status_code == 200
    assert admin_client.get(f"/admin/registry/{model}/add/").status_code == 200


def test_admin_device_page_shows_registry_properties(admin_client, devices):
    page = admin_client.get(f"/admin/registry/device/{devices[0].pk}/change/").content.decode()
    for label in ("Health status", "Last reading at", "Latest anomaly score", "Firmware version"):
        assert label in page


def test_admin_search_finds_a_device_by_site(admin_client, devices):
    page = admin_client.get("/admin/registry/device/", {"q": devices[0].site_id}).content.decode()
    assert devices[0].device_id in page


def test_creating_a_token_in_admin_shows_it_once(admin_client):
    response = admin_client.post(
        "/admin/registry/fleettoken/add/", {"name": "store-42"}, follow=True
    )
    page = response.content.decode()
    token = FleetToken.objects.get(name="store-42")
    plain = page.split("Fleet token for store-42: ")[1].split(" ")[0]
    assert FleetToken.hash(plain) == token.token_hash


def test_create_ingest_token_prints_a_working_token(capsys, client, devices):
    call_command("create_ingest_token", "gateway-7")
    plain = capsys.readouterr().out.strip()
    assert plain.startswith("fmi_")
    response = client.post(
        "/api/v1/ingest/",
        "[]",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {plain}",
    )
    assert response.status_code == 200


def test_create_ingest_token_refuses_a_duplicate_name(db):
    call_command("create_ingest_token", "gateway-7")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_ingest_token", "gateway-7")
