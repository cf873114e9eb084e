"""Concurrent HTTP pages, websockets and Celery tasks against a live stack, and a sampler of
the database connections it holds (pg_stat_activity)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson
import psycopg
from celery import Celery
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

PAGES = ("/alerts/", "/api/v1/alerts/", "/sites/", "/api/v1/alert-events/?since=0")
TASKS = (
    "alerts.tasks.site_offline_check_task",
    "alerts.tasks.auto_escalate_task",
    "monitoring.tasks.freshness_task",
    "scoring.tasks.sweep_runs_task",
)


@dataclass
class Sampler:
    """Count the client connections to `database` every `every` seconds, by application
    name, of the processes whose name starts with `prefix` (the stack's: the test process
    and PostgreSQL's own background workers are not counted)."""

    conninfo: str
    database: str
    exclude: list[int]
    every: float = 0.1
    prefix: str = "fleetmon-"
    peak: Counter = field(default_factory=Counter)
    peak_total: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self, conn) -> Counter:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND NOT pid = ANY(%s)"
            " AND starts_with(application_name, %s) GROUP BY 1",
            [self.database, self.exclude, self.prefix],
        ).fetchall()
        return Counter(dict(rows))

    def now(self) -> Counter:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return self.sample(conn)

    def _run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop.wait(self.every):
                counts = self.sample(conn)
                self.peak_total = max(self.peak_total, sum(counts.values()))
                for name, n in counts.items():
                    self.peak[name] = max(self.peak[name], n)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class LoadReport:
    pages: Counter = field(default_factory=Counter)
    socket_messages: int = 0
    sockets_open: int = 0
    socket_errors: Counter = field(default_factory=Counter)
    tasks_sent: int = 0


def run_load(
    *,
    base_url: str,
    session: str,
    broker: str,
    seconds: float,
    page_clients: int = 16,
    sockets: int = 24,
    tasks_per_second: float = 10,
) -> LoadReport:
    """Pages, websockets (each asking for a catch-up twice a second) and tasks, together."""
    report = LoadReport()
    app = Celery("load", broker=broker, set_as_current=False)
    stop = time.monotonic() + seconds

    async def pages(client: httpx.AsyncClient, n: int) -> None:
        while time.monotonic() < stop:
            path = PAGES[n % len(PAGES)]
            n += 1
            try:
                response = await client.get(path)
                report.pages[response.status_code] += 1
            except httpx.TransportError as exc:
                report.pages[type(exc).__name__] += 1

    async def socket() -> None:
        url = base_url.replace("http", "ws") + "/ws/alerts/"
        headers = {"Origin": base_url, "Cookie": f"sessionid={session}"}
        try:
            # A loaded machine (the suite shares its cores) can take seconds per handshake.
            async with connect(url, additional_headers=headers, open_timeout=60) as ws:
                report.sockets_open += 1
                while time.monotonic() < stop:
                    await ws.send(orjson.dumps({"type": "catch_up", "since": 0}).decode())
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), timeout=0.5)
                            report.socket_messages += 1
                    except TimeoutError:
                        pass
        except (OSError, TimeoutError, WebSocketException) as exc:
            report.socket_errors[type(exc).__name__] += 1

    def tasks() -> None:
        with app.connection_for_write() as connection:
            while time.monotonic() < stop:
                app.send_task(TASKS[report.tasks_sent % len(TASKS)], connection=connection)
                report.tasks_sent += 1
                time.sleep(1 / tasks_per_second)

    async def main() -> None:
        cookies = {"sessionid": session}
        limits = httpx.Limits(max_connections=page_clients)
        async with httpx.AsyncClient(
            base_url=base_url, cookies=cookies, timeout=30, limits=limits
        ) as client:
            sender = asyncio.to_thread(tasks)
            await asyncio.gather(
                sender,
                *(pages(client, n) for n in range(page_clients)),
                *(socket() for _ in range(sockets)),
            )

    asyncio.run(main())
    return report
