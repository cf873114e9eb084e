"""Alert push over websockets, end to end: real uvicorn, real Redis channel layer, real client."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from alerts.streaming import alerts_from_firings
from fleetmon.accounts.models import Profile
from scoring.streaming.rules import Firing
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def operator(django_user_model, name: str, regions: list[str]):
    user = django_user_model.objects.create_user(name, password="pw")
    Profile.objects.create(user=user, role="operator", regions=regions)
    return user


def socket(server: str, user=None):
    headers = {"Origin": server}
    if user is not None:
        client = Client()
        client.force_login(user)
        headers["Cookie"] = f"sessionid={client.cookies['sessionid'].value}"
    return connect(server.replace("http", "ws") + "/ws/alerts/", additional_headers=headers)


def overload(device_id, at) -> Firing:
    return Firing(
        rule="compressor_overload",
        severity="CRITICAL",
        device_id=device_id,
        at=at,
        sensor="current_compressor",
        value=47.0,
        threshold=40.0,
        evidence=((at, 47.0),),
        message="Compressor current 47.0 A above 40 A",
    )


def receive(ws, timeout=5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def test_operators_receive_their_regions_alerts_and_only_those(asgi_server, django_user_model, now):
    west = register_devices(1, region="US-W", site_no=1)[0]
    east = register_devices(1, region="US-E", site_no=2)[0]
    alice = operator(django_user_model, "alice", ["US-W"])
    bob = operator(django_user_model, "bob", ["US-E"])
    with socket(asgi_server, alice) as a, socket(asgi_server, bob) as b:
        alerts_from_firings([overload(west.device_id, now)])
        event = receive(a)
        assert (event["type"], event["device_id"], event["severity"]) == (
            "alert.event",
            west.device_id,
            "CRITICAL",
        )
        alerts_from_firings([overload(east.device_id, now)])
        assert receive(b)["device_id"] == east.device_id
        with pytest.raises(TimeoutError):
            a.recv(timeout=1.0)  # alice never hears of the east alert


def test_an_anonymous_socket_is_refused(asgi_server):
    # Closed before the handshake is accepted: the server answers the upgrade with 403.
    with pytest.raises(InvalidStatus) as refused:
        socket(asgi_server)
    assert refused.value.response.status_code == 403


def test_a_reconnecting_page_catches_up_on_what_it_missed(asgi_server, django_user_model, now):
    west = register_devices(2, region="US-W", site_no=1)
    east = register_devices(1, region="US-E", site_no=2)[0]
    alice = operator(django_user_model, "alice", ["US-W"])
    with socket(asgi_server, alice) as ws:
        alerts_from_firings([overload(west[0].device_id, now)])
        last = receive(ws)["event_id"]
    # Offline: two more alerts in her region, one outside it.
    alerts_from_firings([overload(west[1].device_id, now + timedelta(minutes=1))])
    alerts_from_firings([overload(east.device_id, now + timedelta(minutes=2))])
    with socket(asgi_server, alice) as ws:
        ws.send(json.dumps({"type": "catch_up", "since": last}))
        missed = receive(ws)
        assert missed["device_id"] == west[1].device_id and missed["event_id"] > last
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.0)


def test_a_burst_of_sockets_all_receive_every_later_alert(asgi_server, django_user_model, now):
    """The ASGI server choice (uvicorn) is checked by this: 200 sockets at once."""
    from concurrent.futures import ThreadPoolExecutor

    west = register_devices(2, region="US-W", site_no=1)
    alice = operator(django_user_model, "alice", ["US-W"])
    client = Client()
    client.force_login(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    url = asgi_server.replace("http", "ws") + "/ws/alerts/"

    def open_socket(_):
        return connect(url, additional_headers={"Origin": asgi_server, "Cookie": cookie})

    with ThreadPoolExecutor(max_workers=50) as pool:
        sockets = list(pool.map(open_socket, range(200)))
    try:
        import time

        time.sleep(1.0)  # let every consumer finish joining its groups
        alerts_from_firings([overload(west[0].device_id, now)])
        alerts_from_firings([overload(west[1].device_id, now + timedelta(minutes=1))])

        def two_events(ws):
            return [receive(ws, timeout=10)["device_id"] for _ in range(2)]

        with ThreadPoolExecutor(max_workers=50) as pool:
            received = list(pool.map(two_events, sockets))
    finally:
        for ws in sockets:
            ws.close()
    expected = [west[0].device_id, west[1].device_id]
    assert all(r == expected for r in received)


def test_an_acute_fault_travels_from_the_ingest_api_to_the_operators_browser(
    asgi_server, django_user_model, now, settings, tmp_path
):
    """HTTP ingest -> Redis stream -> streaming rules worker process -> alert -> websocket."""
    import httpx
    import orjson

    from fleetmon.registry.services import fleet_token_create
    from fleetmon.streams import client, stream_key
    from tests.alerts.test_streaming import start_worker
    from tests.conftest import message

    client().delete(*[stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)])
    device = register_devices(1, region="US-W", site_no=1)[0]
    alice = operator(django_user_model, "alice", ["US-W"])
    _, token = fleet_token_create(name="gw")
    worker = start_worker(tmp_path, "rules", claim_idle_ms=30_000)
    try:
        with socket(asgi_server, alice) as ws:
            # Three readings over the limit: the rule needs 3 of the last 4 (persistence).
            batch = [
                message(
                    device.device_id,
                    now - timedelta(minutes=3 - i),
                    values={"current_compressor": a},
                )
                for i, a in enumerate([12.0, 48.5, 48.5, 48.5])
            ]
            response = httpx.post(
                f"{asgi_server}/api/v1/ingest/",
                content=orjson.dumps(batch),
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
            assert response.json()["accepted"] == 4
            event = receive(ws, timeout=15)
    finally:
        worker.terminate()
        worker.wait(10)
    assert (event["device_id"], event["severity"], event["source"]) == (
        device.device_id,
        "CRITICAL",
        "streaming",
    )
    assert "overload" in event["title"].lower()
