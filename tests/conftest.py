"""Shared fixtures: a small registered fleet, a fleet token, and message builders."""

from datetime import UTC, date, datetime, timedelta

import pytest

from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.registry.services import fleet_token_create

# xdist workers kept apart, quick password hashing, an empty task queue per test.
pytest_plugins = ["tests.suite_plugin"]

NORMAL_READINGS = {
    "temperature_evaporator": -20.5,
    "temperature_condenser": 40.0,
    "temperature_ambient": 22.0,
    "temperature_discharge": 70.0,
    "temperature_suction": -10.0,
    "pressure_high_side": 1500.0,
    "pressure_low_side": 200.0,
    "current_compressor": 12.0,
    "vibration_compressor": 3.0,
    "humidity": 45.0,
    "door_open_close": False,
    "defrost_cycle": False,
    "superheat": 8.0,
    "subcooling": 5.0,
}


def message(device_id: str, when: datetime, **overrides) -> dict:
    """A raw device message (domain §1); `readings=` replaces the sensor object."""
    readings = overrides.pop("readings", None)
    if readings is None:
        readings = {**NORMAL_READINGS, **overrides.pop("values", {})}
    return {
        "device_id": device_id,
        "timestamp": when.isoformat(),
        "readings": readings,
        **overrides,
    }


@pytest.fixture(autouse=True)
def scoring_not_paused():
    """The scoring pause lives in Redis (scoring/pause.py), outside the test database's
    rollback: a freshness check in one test must not pause scoring in the next."""
    from scoring.pause import scoring_resume

    scoring_resume()


@pytest.fixture(autouse=True)
def detection_gate_off(settings):
    """The D11 detection gate replays a simulated fleet twice (minutes); the closed-loop
    tests would wait for it. Its own tests turn it on."""
    settings.FLEETMON_DETECTION_GATE_ENABLED = False


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def register_devices(count: int, *, region: str = "US-W", site_no: int = 1) -> list[Device]:
    site, _ = Site.objects.get_or_create(
        site_id=f"SITE-US-SEA-{site_no:04d}",
        defaults={"site_name": f"Store {site_no}", "region": region, "climate_zone": "temperate"},
    )
    cohort, _ = Cohort.objects.get_or_create(
        cohort_id="WF-5HP/temperate",
        defaults={"equipment_model": "WF-5HP", "climate_zone": "temperate"},
    )
    return [
        Device.objects.create(
            device_id=f"REF-{region}-{site_no:03d}{i:05d}",
            site=site,
            cohort=cohort,
            region=region,
            equipment_model="WF-5HP",
            install_date=date(2021, 3, 1),
            firmware_version="4.2.0",
        )
        for i in range(count)
    ]


@pytest.fixture
def devices(db) -> list[Device]:
    return register_devices(5)


@pytest.fixture
def fleet_token(db) -> str:
    _, plain = fleet_token_create(name="gateway-test")
    return plain


@pytest.fixture
def minutes():
    def _minutes(start: datetime, count: int) -> list[datetime]:
        return [start + timedelta(minutes=i) for i in range(count)]

    return _minutes


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker, in a thread, consuming from the test Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from fleetmon.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield app


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    """The real ASGI app under uvicorn in its own process, on the test database."""
    import os
    import subprocess
    import sys
    import time

    import httpx
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    log_path = tmp_path / "uvicorn.log"
    # Another process (an xdist worker's server) can take the free port before uvicorn binds
    # it: that uvicorn exits, and we try another port. "Running on" in our own log tells our
    # server from the one that took the port.
    for attempt in range(3):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "fleetmon.asgi:application"]
                + ["--port", str(port), "--lifespan", "off", "--no-access-log"]
                # Sockets a test leaves open must not hold the shutdown for long.
                + ["--timeout-graceful-shutdown", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # Generous: on a loaded machine (xdist workers beside the plain-PostgreSQL run) the
        # first schema, which warms the server, can take many seconds.
        deadline = time.monotonic() + 90
        while server.poll() is None and time.monotonic() < deadline:
            if f"running on {base}" in log_path.read_text():
                try:
                    httpx.get(f"{base}/api/schema/", timeout=20)
                    break
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        if server.poll() is None and time.monotonic() < deadline:
            break
        server.kill()
        server.wait(timeout=10)
        if attempt == 2 or "address already in use" not in log_path.read_text():
            raise RuntimeError(f"uvicorn did not start: {log_path.read_text()}")
    yield base
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:  # open websockets can hold a graceful shutdown
        server.kill()
        server.wait(timeout=10)


# ---------------------------------------------------------------- browser tests


@pytest.fixture
def chromium(monkeypatch):
    """Per test: Playwright's sync API runs an event loop in this thread while it lives, and
    later tests' async_to_sync (the after-commit websocket push) must not find one. While it
    runs, the ORM calls a test makes between browser steps are still plain sync code."""
    from playwright.sync_api import sync_playwright

    from tests.browser.support import CHROMIUM_ARGS, chromium_path

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_users(transactional_db):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def sign_in(chromium, asgi_server, demo_users, settings):
    """sign_in(username) -> a Playwright page signed in through the login form."""
    contexts = []

    def _sign_in(username: str):
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{asgi_server}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", settings.FLEETMON_DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield _sign_in
    for context in contexts:
        context.close()
