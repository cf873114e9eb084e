"""A small simulated fleet posting through the HTTP API, keeping the ground truth.

Each gateway owns some devices and, every tick, adds one reading per device (one simulated
minute later) to its buffer, then posts the buffer. Like a real gateway it keeps what was
not answered 200 and posts it again: a replay stores nothing twice (event ids), so retrying
is safe. Faults are compressor overloads: a device draws OVERLOAD_A for OVERLOAD_READINGS
minutes in a row, which the streaming rules must raise as one CRITICAL alert.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson

from tests.conftest import NORMAL_READINGS

HEALTHY = NORMAL_READINGS  # what a healthy device reports between faults
OVERLOAD_A = 50.0
OVERLOAD_READINGS = 4
EVENTS = uuid.UUID("3b0f1c52-8d0e-4e49-a7a1-2c5d9e0b7f11")


@dataclass
class Fault:
    device_id: str
    first_minute: int
    readings: int = OVERLOAD_READINGS
    # Monotonic time the reading that completes the rule's persistence (the third over the
    # limit) was answered 200: from then on the alert is due.
    due_at: float | None = None
    alerted_at: float | None = None

    @property
    def last_minute(self) -> int:
        return self.first_minute + self.readings - 1

    @property
    def due_minute(self) -> int:
        return self.first_minute + 2


@dataclass
class Gateway:
    devices: list[str]
    pending: list[dict] = field(default_factory=list)
    acked: set[tuple[str, int]] = field(default_factory=set)


class Fleet:
    """Gateways posting one reading per device per tick until stopped."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        devices: list[str],
        start: datetime,
        gateways: int = 3,
        tick: float = 0.25,
    ) -> None:
        self.url, self.token, self.start, self.tick = url, token, start, tick
        self.gateways = [Gateway(devices[i::gateways]) for i in range(gateways)]
        self.faults: dict[str, Fault] = {}
        self.minute = 0
        self.failures: list[tuple[float, str]] = []  # (monotonic time, what)
        self.successes: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ ground truth

    def reading(self, device_id: str, minute: int) -> dict:
        values = dict(HEALTHY)
        fault = self.faults.get(device_id)
        if fault is not None and fault.first_minute <= minute <= fault.last_minute:
            values["current_compressor"] = OVERLOAD_A
        return {
            "device_id": device_id,
            "timestamp": (self.start + timedelta(minutes=minute)).isoformat(),
            "event_id": str(uuid.uuid5(EVENTS, f"{device_id}|{minute}")),
            "readings": values,
        }

    def inject(self, *, readings: int = OVERLOAD_READINGS) -> Fault:
        """Overload the next healthy device from a minute not yet generated."""
        with self._lock:
            healthy = [d for g in self.gateways for d in g.devices if d not in self.faults]
            fault = Fault(sorted(healthy)[0], self.minute + 1, readings)
            self.faults[fault.device_id] = fault
        return fault

    @property
    def devices(self) -> list[str]:
        return sorted(d for g in self.gateways for d in g.devices)

    def expected(self) -> set[tuple[str, datetime]]:
        """Every (device, time) generated so far."""
        stamps = [self.start + timedelta(minutes=m) for m in range(self.minute)]
        return {(d, s) for d in self.devices for s in stamps}

    def last_reading(self) -> datetime:
        return self.start + timedelta(minutes=self.minute - 1)

    # ------------------------------------------------------------ running

    def run(self) -> None:
        """Start the clock and one thread per gateway."""
        self._threads = [threading.Thread(target=self._clock, daemon=True)] + [
            threading.Thread(target=self._gateway, args=(g,), daemon=True) for g in self.gateways
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, *, drain_timeout: float = 60) -> None:
        """Stop generating, post what is buffered, and stop."""
        self._stop.set()
        deadline = time.monotonic() + drain_timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = sum(len(g.pending) for g in self.gateways)
        assert left == 0, f"{left} readings still unposted {drain_timeout:g} s after the stop"

    def _clock(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                minute = self.minute
                for gateway in self.gateways:
                    gateway.pending.extend(self.reading(d, minute) for d in gateway.devices)
                self.minute += 1
            next_tick += self.tick
            time.sleep(max(0.0, next_tick - time.monotonic()))

    def _gateway(self, gateway: Gateway) -> None:
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=10) as client:
            while not (self._stop.is_set() and not gateway.pending):
                with self._lock:
                    batch = list(gateway.pending)
                if not batch:
                    time.sleep(self.tick / 4)
                    continue
                try:
                    response = client.post(self.url, content=orjson.dumps(batch), headers=headers)
                except httpx.TransportError as exc:
                    self._failed(f"{type(exc).__name__}")
                    continue
                if response.status_code != 200:
                    self._failed(f"HTTP {response.status_code}")
                    continue
                body = response.json()
                assert not body["errors"], body["errors"]
                now = time.monotonic()
                with self._lock:
                    del gateway.pending[: len(batch)]
                    self.successes.append(now)
                    for message in batch:
                        self._answered(message, now)
                time.sleep(self.tick / 2)

    def _failed(self, what: str) -> None:
        with self._lock:
            self.failures.append((time.monotonic(), what))
        time.sleep(0.2)

    def _answered(self, message: dict, now: float) -> None:
        fault = self.faults.get(message["device_id"])
        if fault is None or fault.due_at is not None:
            return
        due = (self.start + timedelta(minutes=fault.due_minute)).isoformat()
        if message["timestamp"] == due:
            fault.due_at = now

    # ------------------------------------------------------------ what happened

    def ingest_outage(self, since: float) -> float:
        """Seconds from `since` to the first success after the last failure (0: none)."""
        failures = [t for t, _ in self.failures if t >= since]
        if not failures:
            return 0.0
        back = [t for t in self.successes if t > failures[-1]]
        return (back[0] if back else time.monotonic()) - since
