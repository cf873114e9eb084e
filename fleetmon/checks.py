"""System checks that turn set-up mistakes into one clear message with a stable id."""

import os

from django.core.checks import Error, Tags, Warning, register
from django.db import connection
from django.db.utils import OperationalError

from fleetmon.timescale import timescaledb_installed


@register(Tags.database)
def check_timescaledb(app_configs, databases=None, **kwargs):
    """fleetmon.W001: the readings tables are plain tables without TimescaleDB."""
    if not databases or "default" not in databases:
        return []
    try:
        installed = timescaledb_installed(connection)
    except OperationalError as exc:
        return [Error(f"Cannot reach the database: {exc}", id="fleetmon.E001")]
    if installed:
        return []
    return [
        Warning(
            "The database lacks the TimescaleDB extension: readings, features and scores are "
            "stored in plain PostgreSQL tables (no hypertables, no chunk retention).",
            hint="Run `scripts/services.sh` for a local TimescaleDB, or point DATABASE_URL at "
            "a server with timescaledb in shared_preload_libraries and run `migrate` again.",
            id="fleetmon.W001",
        )
    ]


@register()
def check_redis(app_configs, **kwargs):
    """fleetmon.E002: Celery and Channels need Redis."""
    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return [
            Error(
                f"Redis at {settings.REDIS_URL} is not reachable: {exc}",
                hint="Run `scripts/services.sh` or set REDIS_URL.",
                id="fleetmon.E002",
            )
        ]
    return []


@register()
def check_artifact_dir(app_configs, **kwargs):
    """fleetmon.E003: trained models are written to FLEETMON_ARTIFACT_DIR."""
    import os
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.FLEETMON_ARTIFACT_DIR)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # a folder that does not exist yet is made on first write
    if not os.access(probe, os.W_OK):
        return [
            Error(
                f"The model artifact folder {folder} is not writable.",
                hint="Set FLEETMON_ARTIFACT_DIR to a writable folder.",
                id="fleetmon.E003",
            )
        ]
    return []


# The SECRET_KEY settings.py falls back to when none is set: public, as it is in the repository.
DEV_SECRET_KEY = "fleetmon-dev-only-secret-key-change-me-in-production"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}


def _dev_secret_in_use(settings) -> bool:
    return not os.getenv("SECRET_KEY") or settings.SECRET_KEY == DEV_SECRET_KEY


@register(Tags.security)
def check_dev_secret_key(app_configs, **kwargs):
    """fleetmon.E004: the public development SECRET_KEY with DEBUG off, on a reachable site."""
    from django.conf import settings

    if settings.DEBUG or not _dev_secret_in_use(settings):
        return []
    if settings.FLEETMON_ALLOW_DEV_SECRET or set(settings.ALLOWED_HOSTS) <= LOCAL_HOSTS:
        return []  # `make run` and the tests: one machine, local names only
    return [
        Error(
            "SECRET_KEY is the built-in development key, which anyone can read in the "
            "repository: sessions, password resets and signed values could be forged.",
            hint="Set SECRET_KEY to a long random value, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'` (FLEETMON_ALLOW_DEV_SECRET=true accepts "
            "the development key on a development machine).",
            id="fleetmon.E004",
        )
    ]


@register(Tags.security, deploy=True)
def check_dev_secret_key_deploy(app_configs, **kwargs):
    """fleetmon.W004: `check --deploy` names the development SECRET_KEY whatever the hosts."""
    from django.conf import settings

    if not _dev_secret_in_use(settings) or check_dev_secret_key(app_configs):
        return []  # no development key, or E004 already says it
    return [
        Warning(
            "SECRET_KEY is the built-in development key: set SECRET_KEY before deploying.",
            id="fleetmon.W004",
        )
    ]


def refuse_development_key() -> None:
    """Stop a process that would serve with the development key (fleetmon.E004).

    Management commands run the system checks themselves; uvicorn (fleetmon/asgi.py) and
    Celery (fleetmon/celery.py) do not, so they call this before serving anything.
    """
    from django.core.exceptions import ImproperlyConfigured

    for error in check_dev_secret_key(None):
        raise ImproperlyConfigured(f"{error.msg} {error.hint} ({error.id})")
