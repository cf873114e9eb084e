"""Database connections stay within the budget of README "Running in production" under
concurrent ingest, pages, websockets and Celery tasks against the processes of `make run`."""

import time

import pytest
from django.db import connection

from tests.chaos.conftest import database_url
from tests.chaos.load import Sampler, run_load
from tests.chaos.verify import REPORT

pytestmark = [pytest.mark.live, pytest.mark.chaos]

WEB_WORKERS, WORKER_CONCURRENCY = 4, 2  # as `make run`
STACK = {"web_workers": WEB_WORKERS, "worker_concurrency": WORKER_CONCURRENCY}
# The budget of each process (README "Running in production": sizing).
BUDGET = {
    "fleetmon-web": WEB_WORKERS * 4,
    "fleetmon-worker": WORKER_CONCURRENCY * 2 + 1,
    "fleetmon-beat": 1,
    "fleetmon-rules": 2,
}


def test_database_connections_stay_within_the_budget_under_load(stack, fleet_factory, session):
    connection.ensure_connection()
    ours = [connection.connection.info.backend_pid]
    database = connection.settings_dict["NAME"]

    fleet = fleet_factory(96, gateways=16, tick=0.1)
    with Sampler(database_url(), database, exclude=ours) as sampler:
        report = run_load(
            base_url=stack.base_url,
            session=session,
            broker=stack.env["REDIS_URL"],
            seconds=20,
        )
    fleet.stop()
    time.sleep(5)
    idle = Sampler(database_url(), database, exclude=ours).now()

    REPORT.append(
        f"database connections of `make run`-like processes ({stack.web_workers} web workers,"
        f" Celery concurrency {stack.worker_concurrency}) under load, and 5 s after it:"
    )
    for name in sorted(set(sampler.peak) | set(BUDGET)):
        REPORT.append(
            f"  {name:18} peak {sampler.peak.get(name, 0):3}  idle after {idle.get(name, 0):3}"
            f"  budget {BUDGET.get(name, 0):3}"
        )
    REPORT.append(
        f"  {'total':18} peak {sampler.peak_total:3}  idle after {sum(idle.values()):3}"
        f"  budget {sum(BUDGET.values()):3}"
    )
    REPORT.append(
        f"  load: pages {dict(report.pages)}, websockets {report.sockets_open}"
        f" (failed {dict(report.socket_errors)}), "
        f"tasks {report.tasks_sent}, ingest {len(fleet.successes)} batches "
        f"({len(fleet.failures)} failed)"
    )
    assert report.sockets_open > 0 and report.pages[200] > 0 and fleet.successes
    # No request failed for want of a connection (the audit saw HTTP 500s, "too many clients").
    assert set(report.pages) == {200} and not fleet.failures, (report.pages, fleet.failures)
    # The sampler saw the processes that were loaded (it counts nothing of anyone else's).
    assert all(sampler.peak[name] > 0 for name in ("fleetmon-web", "fleetmon-worker"))
    assert sampler.peak["fleetmon-rules"] > 0
    assert sampler.peak_total <= sum(BUDGET.values())
    for name, peak in sampler.peak.items():
        assert peak <= BUDGET.get(name, 0), (name, peak)
