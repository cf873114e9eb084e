"""Fixtures of the accounts tests."""

import pytest


@pytest.fixture
def quick_session_checks(monkeypatch):
    """Open websockets of the next asgi_server re-check their session every half second."""
    monkeypatch.setenv("FLEETMON_WS_SESSION_CHECK_SECONDS", "0.5")
