"""Fixtures of the chaos suite: a private Redis, the supervised stack, a simulated fleet.

One stack per test module (starting it takes seconds); each test registers its own devices
under its own site, so what one case leaves in a worker's memory never meets the next.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.conf import settings

from fleetmon.registry.services import fleet_token_create
from tests.chaos.fleet import Fleet
from tests.chaos.stack import RedisServer, Stack
from tests.chaos.verify import REPORT, RESULTS, Outcome
from tests.conftest import register_devices

SITES = count(100)


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="module")
def chaos_redis(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stack(request, django_db_setup, chaos_redis, tmp_path_factory) -> Iterator[Stack]:
    """The processes of `make run` on the test database and the private Redis.

    A test module may set STACK = {"web_workers": ..., "env": {...}} to change them.
    """
    options = dict(getattr(request.module, "STACK", {}))
    folder = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": chaos_redis.url(0),
        "FLEETMON_ARTIFACT_DIR": str(folder / "artifacts"),
        "DJANGO_SETTINGS_MODULE": "fleetmon.settings",
        **options.pop("env", {}),
    }
    stack = Stack(folder, env, **options)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def session(transactional_db, django_user_model) -> str:
    """The session cookie of a signed-in admin, for pages and the alerts websocket."""
    from django.test import Client

    from fleetmon.accounts.models import Profile

    user = django_user_model.objects.create_user("chaos-admin", password="pw")
    Profile.objects.create(user=user, role="admin")
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def fleet_factory(stack, transactional_db) -> Iterator:
    """fleet_factory(devices) -> a started Fleet of that many new devices; stopped after."""
    fleets: list[Fleet] = []
    # One INFO line per ingest request would bury a failure's own log.
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)

    def make(devices: int = 24, **options) -> Fleet:
        registered = register_devices(devices, region="US-W", site_no=next(SITES))
        _, token = fleet_token_create(name=f"chaos-{len(fleets)}")
        # Far enough back that the whole run stays within the 24 h clock-drift limit.
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=20)
        fleet = Fleet(
            url=f"{stack.base_url}/api/v1/ingest/",
            token=token,
            devices=[d.device_id for d in registered],
            start=start,
            **options,
        )
        fleets.append(fleet)
        fleet.run()
        return fleet

    yield make
    httpx_logger.setLevel(level)
    for fleet in fleets:
        fleet._stop.set()


def pytest_terminal_summary(terminalreporter):
    """Print what the chaos suite measured, passed or not."""
    if not (RESULTS or REPORT):
        return
    terminalreporter.section("chaos suite")
    if RESULTS:
        terminalreporter.write_line(Outcome.HEADER)
        for result in RESULTS:
            terminalreporter.write_line(result.line())
    for line in REPORT:
        terminalreporter.write_line(line)
