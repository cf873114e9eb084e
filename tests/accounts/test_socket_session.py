"""An open alerts websocket stops when its session ends: closed at logout, or at its next
check when the session expires or is deleted."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from websockets.exceptions import ConnectionClosed

from alerts.consumers import SESSION_ENDED
from alerts.streaming import alerts_from_firings
from tests.alerts.test_websocket import operator, overload, receive
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def signed_in_socket(server: str, client: Client):
    from websockets.sync.client import connect

    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return connect(
        server.replace("http", "ws") + "/ws/alerts/",
        additional_headers={"Origin": server, "Cookie": cookie},
    )


def closed_code(ws, timeout: float = 5.0) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)  # any event still in flight is read past
    return closed.value.rcvd.code


def test_logging_out_closes_the_open_socket(asgi_server, django_user_model, now):
    west = register_devices(2, region="US-W", site_no=1)
    client = Client()
    client.force_login(operator(django_user_model, "alice", ["US-W"]))
    with signed_in_socket(asgi_server, client) as ws:
        alerts_from_firings([overload(west[0].device_id, now)])
        assert receive(ws)["device_id"] == west[0].device_id
        client.logout()
        assert closed_code(ws) == SESSION_ENDED
        alerts_from_firings([overload(west[1].device_id, now)])  # nobody hears of this one


def test_a_session_that_ends_otherwise_closes_its_socket_at_the_next_check(
    quick_session_checks, asgi_server, django_user_model
):
    client = Client()
    client.force_login(operator(django_user_model, "alice", ["US-W"]))
    with signed_in_socket(asgi_server, client) as ws:
        Session.objects.all().delete()  # as expiry or an admin's clean-up would
        assert closed_code(ws) == SESSION_ENDED


def test_a_password_change_closes_the_other_sessions_sockets(
    quick_session_checks, asgi_server, django_user_model
):
    alice = operator(django_user_model, "alice", ["US-W"])
    client = Client()
    client.force_login(alice)
    with signed_in_socket(asgi_server, client) as ws:
        alice.set_password("a new passphrase")
        alice.save()
        assert closed_code(ws) == SESSION_ENDED
