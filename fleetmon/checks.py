"""System checks that turn set-up mistakes into one clear message with a stable id."""

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
