"""A whole FleetMon on this machine for the chaos tests: a private Redis and the processes of
`make run` under scripts/supervise.py, on the test database.

The private redis-server can be stopped and started again without touching the machine's
shared Redis, which other sessions and test runs use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, *, timeout: float, what: str, every: float = 0.1):
    """Poll `condition` until it returns something true; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class RedisServer:
    """A redis-server of our own, persisted to an append-only file so a restart keeps data."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--dir", str(self.folder), "--appendonly", "yes", "--save", ""]
            + ["--protected-mode", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.answers, timeout=10, what="the private redis-server")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop it as an outage would: clients get connection refused until start()."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)  # writes the append-only file, then exits
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@dataclass
class Stack:
    """web (uvicorn workers), a Celery worker, beat and a rules worker, supervised."""

    folder: Path
    env: dict[str, str]
    web_workers: int = 2
    worker_concurrency: int = 2
    port: int = field(default_factory=free_port)
    supervisor: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def commands(self) -> dict[str, str]:
        """What scripts/run.sh runs, with the same names and connection budgets."""
        manage = f"{PYTHON} {ROOT / 'manage.py'}"
        return {
            "web": "env DB_APPLICATION_NAME=fleetmon-web"
            f" {BIN / 'uvicorn'} fleetmon.asgi:application --host 127.0.0.1"
            f" --port {self.port} --workers {self.web_workers} --no-access-log --lifespan off"
            " --timeout-graceful-shutdown 5",
            "worker": "env DB_APPLICATION_NAME=fleetmon-worker DB_POOL_MAX_SIZE=2"
            f" REMAP_SIGTERM=SIGQUIT {BIN / 'celery'} -A fleetmon worker --loglevel INFO"
            f" --concurrency {self.worker_concurrency} --hostname chaos@%h",
            "beat": "env DB_APPLICATION_NAME=fleetmon-beat DB_POOL_MAX_SIZE=1"
            f" {BIN / 'celery'} -A fleetmon beat --loglevel INFO"
            f" --schedule {self.folder / 'beat-schedule'}",
            "rules": "env DB_APPLICATION_NAME=fleetmon-rules DB_POOL_MAX_SIZE=2"
            f" {manage} run_streaming_rules --name rules-1",
        }

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        specs = [f"{name}={command}" for name, command in self.commands().items()]
        self.supervisor = subprocess.Popen(
            [PYTHON, str(ROOT / "scripts" / "supervise.py"), "--log-dir", str(self.folder)] + specs,
            cwd=ROOT,
            env=self.env,
            stdout=(self.folder / "supervise.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.web_answers, timeout=60, what=f"the web at {self.base_url}")
        wait_for(lambda: len(self.children("web")) == self.web_workers, timeout=30, what="web")

    def web_answers(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/accounts/login/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def pid(self, name: str) -> int:
        return int((self.folder / f"{name}.pid").read_text())

    def children(self, name: str) -> list[int]:
        """The workers of a supervised process (uvicorn's or Celery's pool processes)."""
        return [p for p in children_of(self.pid(name)) if "resource_tracker" not in cmdline(p)]

    def kill(self, name: str) -> None:
        """kill -9 a supervised process and everything in its group."""
        os.killpg(self.pid(name), signal.SIGKILL)

    def restarts(self, name: str) -> int:
        log = (self.folder / "supervise.log").read_text()
        return log.count(f"started {name} (")

    def stop(self) -> float:
        """SIGTERM the supervisor; return how long everything took to stop."""
        if self.supervisor is None:
            return 0.0
        started = time.monotonic()
        self.supervisor.send_signal(signal.SIGTERM)
        try:
            self.supervisor.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.supervisor.pid, signal.SIGKILL)
            self.supervisor.wait(10)
        finally:
            for name in self.commands():
                try:
                    os.killpg(self.pid(name), signal.SIGKILL)
                except (ProcessLookupError, FileNotFoundError, ValueError):
                    pass
        self.supervisor = None
        return time.monotonic() - started

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]
