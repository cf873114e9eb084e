"""How the suite runs fast and stays independent (loaded by tests/conftest.py).

- Under pytest-xdist each worker gets its own test database (pytest-django appends `_gw<N>`),
  its own pair of Redis databases and its own artifact folder, so workers share nothing.
  The pair is counted down from the database number of the controller's REDIS_URL:
  worker N uses `base - 2N` (REDIS_URL: Celery broker and results, channel layer, readings
  stream) and `base - 2N - 1` (FLEETMON_EVAL_REDIS_URL: detection replays). With the default
  base 15 and `-n 2` that is 15 and 14 for gw0, 13 and 12 for gw1; `scripts/test.sh` gives its
  second, concurrent run a lower base. The values go into the worker's environment before
  Django reads its settings, and so also reach the uvicorn, rules-worker and Celery
  subprocesses that tests start.
- Passwords are hashed with one PBKDF2 iteration instead of a million (0.35 s a user here).
  The algorithm name is unchanged, so a server process started by a test (with the real
  hashers) still verifies those passwords.
- Tests marked `heavy` (a minute or more each) are collected first. `scripts/test.sh` hands
  tests out in collection order as workers become free (`--dist loadgroup
  --no-loadscope-reorder`), so the long ones start at once instead of one of them arriving
  last and running alone at the end.
- Each test starts with an empty Celery queue: tasks that an earlier test enqueued without a
  worker to run them are not run by the next test's worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import urlparse

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test.utils import override_settings

# Workers' private artifact folders, made by the controller, removed when it finishes.
_WORKER_FOLDERS: list[str] = []


def _redis_db(url: str, db: int) -> str:
    return urlparse(url)._replace(path=f"/{db}").geturl()


def worker_environment(worker: int, redis_url: str) -> dict[str, str]:
    """The environment that keeps xdist worker number `worker` apart from the others."""
    parts = urlparse(redis_url)
    base = int(parts.path.strip("/") or 0)
    redis_db, eval_db = base - 2 * worker, base - 2 * worker - 1
    if eval_db < 0:
        raise pytest.UsageError(
            f"REDIS_URL {redis_url} (database {base}) leaves no pair of Redis databases for "
            f"xdist worker gw{worker}: use a higher database number or fewer workers"
        )
    url = _redis_db(redis_url, redis_db)
    folder = tempfile.mkdtemp(prefix=f"fleetmon-test-artifacts-gw{worker}-")
    _WORKER_FOLDERS.append(folder)
    return {
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "FLEETMON_EVAL_REDIS_URL": _redis_db(redis_url, eval_db),
        "FLEETMON_ARTIFACT_DIR": folder,
    }


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Give each worker's process its own Redis pair and artifact folder (see above)."""
    from django.conf import settings

    for number, spec in enumerate(specs):
        spec.env.update(worker_environment(number, os.getenv("REDIS_URL", settings.REDIS_URL)))


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)  # stable


def pytest_unconfigure(config):
    while _WORKER_FOLDERS:
        shutil.rmtree(_WORKER_FOLDERS.pop(), ignore_errors=True)


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2-SHA256 with one iteration: the same hash format, verifiable by the real one."""

    iterations = 1


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    with override_settings(
        PASSWORD_HASHERS=["tests.suite_plugin.QuickPBKDF2PasswordHasher"],
    ):
        yield


@pytest.fixture(autouse=True)
def empty_task_queue():
    """Drop the Celery messages (waiting or unacknowledged) that earlier tests left behind."""
    import redis
    from django.conf import settings

    from fleetmon.celery import app

    app.control.purge()
    # kombu's Redis transport keeps delivered-but-unacknowledged messages here and puts them
    # back in the queue once their visibility timeout passes.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("unacked", "unacked_index")
