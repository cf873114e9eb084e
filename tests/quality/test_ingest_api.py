"""POST /api/v1/ingest/: authentication, limits, malformed input, per-row answers."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.test import Client, override_settings

from fleetmon.readings.models import CleanSensorReading
from fleetmon.registry.models import FleetToken
from fleetmon.registry.services import fleet_token_revoke
from tests.conftest import message

pytestmark = pytest.mark.django_db
URL = "/api/v1/ingest/"


def post(body, token=None, **extra):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return Client().post(URL, data=data, content_type="application/json", **headers, **extra)


def test_batch_is_ingested_and_counted(devices, fleet_token, now):
    batch = [message(d.device_id, now) for d in devices]
    response = post(batch, fleet_token)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == len(devices)
    assert CleanSensorReading.objects.count() == len(devices)


def test_missing_token_is_refused(devices, now):
    response = post([message(devices[0].device_id, now)])
    assert response.status_code == 401
    assert CleanSensorReading.objects.count() == 0


def test_unknown_and_revoked_tokens_are_refused(devices, fleet_token, now):
    assert post([], "fmi_not-a-token").json()["detail"] == (
        "Unknown, expired or revoked fleet token."
    )
    fleet_token_revoke(token=FleetToken.objects.get())
    response = post([message(devices[0].device_id, now)], fleet_token)
    assert response.status_code == 401


def test_a_logged_in_user_session_is_not_a_fleet_token(devices, django_user_model, now):
    user = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client = Client()
    client.force_login(user)
    response = client.post(
        URL, orjson.dumps([message(devices[0].device_id, now)]), content_type="application/json"
    )
    assert response.status_code == 401


def test_malformed_json_is_a_400(fleet_token):
    response = post(b'[{"device_id": "REF-1", ', fleet_token)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON")


def test_a_body_that_is_not_an_array_is_a_400(fleet_token):
    response = post({"device_id": "REF-1"}, fleet_token)
    assert response.status_code == 400
    assert response.json()["detail"] == "Expected a JSON array of device messages."


@override_settings(FLEETMON_INGEST_MAX_BODY_BYTES=2000)
def test_oversized_body_is_a_413_naming_the_limit(devices, fleet_token, now):
    batch = [message(devices[0].device_id, now - timedelta(minutes=i)) for i in range(10)]
    response = post(batch, fleet_token)
    assert response.status_code == 413
    assert "2000 bytes (FLEETMON_INGEST_MAX_BODY_BYTES)" in response.json()["detail"]
    assert CleanSensorReading.objects.count() == 0


@override_settings(FLEETMON_INGEST_MAX_BATCH=3)
def test_oversized_batch_is_a_413_naming_the_limit(devices, fleet_token, now):
    batch = [message(devices[0].device_id, now - timedelta(minutes=i)) for i in range(4)]
    response = post(batch, fleet_token)
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "Batch of 4 messages exceeds the limit of 3 messages (FLEETMON_INGEST_MAX_BATCH)."
    )


def test_rejected_rows_are_listed_and_valid_rows_kept(devices, fleet_token, now):
    batch = [
        message(devices[0].device_id, now),
        message(devices[1].device_id, now, values={"humidity": "damp"}),
        message(devices[2].device_id, now, readings={"flux_capacitor": 1.21}),
    ]
    response = post(batch, fleet_token)
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert body["errors"] == [
        {"index": 1, "field": "readings.humidity", "reason": "expected a number or null"},
        {"index": 2, "field": "readings.flux_capacitor", "reason": "unknown sensor"},
    ]


def test_a_batch_where_every_row_is_rejected_is_a_422(fleet_token):
    response = post([{"device_id": "REF-1"}, 7], fleet_token)
    assert response.status_code == 422
    assert response.json()["rejected"] == 2


def test_ingest_is_in_the_openapi_schema(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/ingest/"]["post"]
    assert operation["operationId"] == "ingest_readings"
    assert {"200", "400", "401", "413", "415", "422", "503"} <= set(operation["responses"])


def test_a_nul_byte_in_any_row_is_that_rows_error_and_the_others_are_stored(
    devices, fleet_token, now
):
    """A gateway retrying such a batch used to fail forever (HTTP 500, nothing stored)."""
    batch = [
        message(devices[0].device_id, now),
        message(f"{devices[1].device_id}\x00", now),
        message(devices[2].device_id, now, readings={"humidity\x00": 1.0}),
        {**message(devices[3].device_id, now), "note\x00": "x"},
        message(devices[4].device_id, now - timedelta(minutes=1)),
    ]
    response = post(batch, fleet_token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "device_id"),
        (2, "readings.humidity\\x00"),
        (3, "note\\x00"),
    ]
    assert "cannot be stored" in body["errors"][0]["reason"]
    assert CleanSensorReading.objects.count() == 2


def test_a_lone_surrogate_is_a_row_error_not_a_malformed_batch(devices, fleet_token, now):
    good = orjson.dumps(message(devices[0].device_id, now))
    bad = orjson.dumps(message("REF-SURROGATE", now)).replace(b"REF-SURROGATE", b"REF-\\ud800")
    response = post(b"[" + good + b"," + bad + b"]", fleet_token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["field"] == "device_id"


def test_a_timestamp_without_a_utc_offset_is_a_row_error_that_says_so(devices, fleet_token, now):
    naive = now.replace(tzinfo=None).isoformat()
    batch = [
        message(devices[0].device_id, now),
        {**message(devices[1].device_id, now), "timestamp": naive},
    ]
    response = post(batch, fleet_token)
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"] == [
        {
            "index": 1,
            "field": "timestamp",
            "reason": "no UTC offset: the contract is ISO-8601 UTC (end it with Z or +00:00)",
        }
    ]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_a_body_that_is_not_declared_json_is_a_415(devices, fleet_token, now, content_type):
    body = orjson.dumps([message(devices[0].device_id, now)])
    response = Client().post(
        URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Token {fleet_token}"
    )
    assert response.status_code == 415
    assert response.json()["detail"].startswith("Unsupported media type")
    assert CleanSensorReading.objects.count() == 0


def test_json_with_a_charset_is_json(devices, fleet_token, now):
    response = Client().post(
        URL,
        data=orjson.dumps([message(devices[0].device_id, now)]),
        content_type="application/json; charset=utf-8",
        HTTP_AUTHORIZATION=f"Token {fleet_token}",
    )
    assert response.status_code == 200


def test_a_database_outage_is_a_503_the_gateway_retries(devices, fleet_token, now, monkeypatch):
    from django.db import OperationalError

    def down(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr("quality.api.views.ingest_messages", down)
    response = post([message(devices[0].device_id, now)], fleet_token)
    assert response.status_code == 503
    assert "send the batch again" in response.json()["detail"]


@pytest.fixture
def small_body_limit(monkeypatch):
    """For the server process, which reads its settings from the environment."""
    monkeypatch.setenv("FLEETMON_INGEST_MAX_BODY_BYTES", "4096")


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_an_oversized_chunked_body_is_a_json_413_naming_the_limit(
    small_body_limit, asgi_server, fleet_token
):
    """A chunked body declares no length: the server stops reading at the limit."""
    import httpx

    def chunks():
        yield b"["
        for _ in range(100):
            yield orjson.dumps(message("REF-US-W-00000001", datetime.now(UTC))) + b","
        yield b"1]"

    headers = {"Authorization": f"Token {fleet_token}", "Content-Type": "application/json"}
    response = httpx.post(f"{asgi_server}{URL}", content=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body exceeds the limit of 4096 bytes (FLEETMON_INGEST_MAX_BODY_BYTES)."
    }
