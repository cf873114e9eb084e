"""A fresh database for benchmarks, next to the app's: `<name>_bench`, migrated, empty."""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[1]

READINGS_TABLES = (
    "raw_sensor_readings",
    "clean_sensor_readings",
    "quarantine_sensor_readings",
    "dead_letter_sensor_readings",
)


def setup_bench_database() -> str:
    """Point Django at a freshly created bench database, migrate it, return its URL."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5433/fleetmon")
    parts = urlparse(base)
    name = f"{parts.path.lstrip('/')}_bench"
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = parts._replace(path=f"/{name}").geturl()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def truncate_readings() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(READINGS_TABLES)}")


def start_process(command: list[str], env: dict):
    """Start a server in its own process group, so stopping it also stops its workers."""
    import subprocess

    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_processes(processes) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after 10 s."""
    import signal
    import subprocess

    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
