"""A scratch world for a replay: its own database, Redis database and artifact folder.

A replay raises thousands of alerts on a simulated fleet. None of that may reach live data or
live people, so for its duration:

- the default database connection points at a new database `<name>_eval_<pid>`, migrated
  from scratch, dropped afterwards unless kept;
- Redis (readings stream, thresholds version, scoring pause) is FLEETMON_EVAL_REDIS_URL,
  which must differ from the live REDIS_URL, and is emptied before use;
- fitted models go to a temporary artifact folder (live versions share their names);
- alert events go to an in-process channel layer, mail to memory, no webhook is called;
- Celery tasks run eagerly, in this process, so nothing is queued for live workers.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections
from django.test.utils import override_settings

logger = logging.getLogger(__name__)


class ScratchRefused(RuntimeError):
    """The scratch world would share something with the live one."""


@dataclass(frozen=True)
class ScratchWorld:
    database: str
    redis_url: str
    artifact_dir: str


@contextmanager
def scratch_world(*, keep: bool = False) -> Iterator[ScratchWorld]:
    """Run the body against a fresh database, Redis database and artifact folder."""
    redis_url = settings.FLEETMON_EVAL_REDIS_URL
    if redis_url in (settings.REDIS_URL, settings.CELERY_BROKER_URL):
        raise ScratchRefused(
            f"FLEETMON_EVAL_REDIS_URL ({redis_url}) is the live Redis; give replays their own "
            "database number"
        )
    connection = connections["default"]
    live_name = connection.settings_dict["NAME"]
    scratch = f"{live_name}_eval_{os.getpid()}"[:63]
    artifacts = tempfile.mkdtemp(prefix="fleetmon-eval-artifacts-")
    _database_create(scratch)
    redis.Redis.from_url(redis_url).flushdb()
    world = ScratchWorld(database=scratch, redis_url=redis_url, artifact_dir=artifacts)
    try:
        with _isolated_settings(world), _eager_celery():
            _connect(scratch)
            call_command("migrate", verbosity=0, interactive=False)
            try:
                yield world
            finally:
                _connect(live_name)
    finally:
        if keep:
            logger.info("kept scratch database %s and artifacts %s", scratch, artifacts)
        else:
            _database_drop(scratch)
            redis.Redis.from_url(redis_url).flushdb()
            for path in Path(artifacts).glob("*"):
                path.unlink()
            Path(artifacts).rmdir()


def _connect(name: str) -> None:
    """Point the default connection at database `name` (closing the current one)."""
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES["default"]["NAME"] = name
    # Content type ids differ between databases; a cached one would point at the wrong row.
    ContentType.objects.clear_cache()


def _database_create(name: str) -> None:
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')


def _database_drop(name: str) -> None:
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _isolated_settings(world: ScratchWorld) -> Iterator[None]:
    from channels.layers import channel_layers

    with override_settings(
        REDIS_URL=world.redis_url,
        FLEETMON_ARTIFACT_DIR=world.artifact_dir,
        FLEETMON_ALERT_WEBHOOK_URL="",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    ):
        # The layer is built once per process and cached: drop it so the override applies.
        channel_layers.backends.pop("default", None)
        try:
            yield
        finally:
            channel_layers.backends.pop("default", None)


@contextmanager
def _eager_celery() -> Iterator[None]:
    from fleetmon.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before
