"""The bounded connection pool of every process (fleetmon/postgres): threads that end with
their connection still open do not starve it."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.django_db(transaction=True)]


def query_and_leave_open(errors: list) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    # No connection.close(): the thread ends with its connection checked out of the pool.


def test_threads_that_end_with_their_connection_open_do_not_starve_the_pool():
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    connection.ensure_connection()  # this thread holds one of them throughout
    errors: list = []
    started = time.monotonic()
    for _ in range(pool["max_size"] * 3):
        thread = threading.Thread(target=query_and_leave_open, args=(errors,))
        thread.start()
        thread.join(pool["timeout"] + 5)
    took = time.monotonic() - started

    assert not errors, errors
    # Each dead thread's connection went back to the pool: nobody waited out the pool's
    # timeout for one, and the pool never grew past its size.
    assert took < pool["timeout"], took
    assert connection.pool.get_stats()["pool_size"] <= pool["max_size"]
