"""`manage.py check --deploy` is clean under the production environment of the README, and the
public development SECRET_KEY is refused with DEBUG off (fleetmon.E004)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from fleetmon.checks import DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def documented_production_environment() -> dict[str, str]:
    """The table of README "Running in production" / "Environment", as values; the
    SECRET_KEY row describes the key, so a random one of the length it asks for stands in."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Running in production") :]
    section = section[section.index("### Environment") :]
    table = section[section.index("| variable | production value |") :].split("\n\n")[0]
    env = {}
    for row in table.splitlines()[2:]:
        name, value = (cell.strip() for cell in row.strip("|").split("|")[:2])
        env[name.strip("`")] = value.strip("`")
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_HSTS_SECONDS"} <= set(env)
    assert "50 random characters" in env["SECRET_KEY"]
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


PRODUCTION = documented_production_environment()


def manage(*args: str, drop=(), **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with the test run's database and Redis and `env` on top."""
    base = {k: v for k, v in os.environ.items() if k not in {*drop, *PRODUCTION}}
    base.pop("FLEETMON_ALLOW_DEV_SECRET", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_production_environment_passes_check_deploy():
    result = manage("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("key", [None, DEV_SECRET_KEY])
def test_the_development_key_is_refused_with_debug_off(key):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    if key:
        env["SECRET_KEY"] = key
    result = manage("check", **env)
    assert result.returncode == 1
    assert "(fleetmon.E004) SECRET_KEY is the built-in development key" in result.stderr
    assert "Set SECRET_KEY to a long random value" in result.stderr


def test_the_development_key_serves_a_local_machine_and_debug():
    assert manage("check").returncode == 0  # `make run` and the tests: local names only
    assert manage("check", DEBUG="true", ALLOWED_HOSTS="fleetmon.example.com").returncode == 0


def test_a_development_machine_may_say_it_means_the_key_and_deploy_still_names_it():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    assert manage("check", FLEETMON_ALLOW_DEV_SECRET="true", **env).returncode == 0
    deploy = manage("check", "--deploy", FLEETMON_ALLOW_DEV_SECRET="true", **env)
    assert "(fleetmon.W004) SECRET_KEY is the built-in development key" in deploy.stderr


def test_settings_fall_back_to_the_key_the_check_knows():
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "fleetmon.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == DEV_SECRET_KEY


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run `argv` in the project with the test run's database and Redis and `env` on top."""
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    base.pop("FLEETMON_ALLOW_DEV_SECRET", None)
    return subprocess.run(
        argv, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_web_process_will_not_serve_with_the_development_key():
    """uvicorn runs no system checks: the ASGI application itself refuses."""
    without_key = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    refused = run([sys.executable, "-c", "import fleetmon.asgi"], **without_key)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "fleetmon.E004" in refused.stderr
    assert run([sys.executable, "-c", "import fleetmon.asgi"], **PRODUCTION).returncode == 0


@pytest.mark.parametrize("process", ["worker", "beat"])
def test_celery_will_not_start_with_the_development_key(process, tmp_path):
    without_key = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    argv = [sys.executable, "-m", "celery", "-A", "fleetmon", process, "--loglevel", "WARNING"]
    if process == "worker":
        argv += ["--pool", "solo", "--queues", "fleetmon-deploy-check-unused"]
    else:
        argv += ["--schedule", str(tmp_path / "beat-schedule")]
    refused = run(argv, **without_key)  # would run until stopped if it started
    assert refused.returncode != 0
    assert "fleetmon.E004" in refused.stderr
