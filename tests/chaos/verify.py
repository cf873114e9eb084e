"""Ground truth against what the stack stored, evaluated and alerted; the suite's table."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection

from alerts.models import DeviceAlert
from fleetmon.readings.models import StreamProgress
from tests.chaos.fleet import Fleet


@dataclass
class Outcome:
    case: str
    sent: int
    lost: int
    duplicated: int
    faults: int
    alerted_once: int
    other_alerts: int
    recovery: float
    bound: float

    HEADER = (
        f"{'case':28} {'sent':>6} {'lost':>5} {'dup':>4} {'faults alerted once':>20}"
        f" {'other alerts':>13} {'recovery':>9} {'bound':>6}"
    )

    def line(self) -> str:
        return (
            f"{self.case:28} {self.sent:6} {self.lost:5} {self.duplicated:4}"
            f" {f'{self.alerted_once}/{self.faults}':>20} {self.other_alerts:13}"
            f" {self.recovery:8.1f}s {self.bound:5.0f}s"
        )


# What the suite measured, printed at the end of the run (conftest.pytest_terminal_summary).
RESULTS: list[Outcome] = []
REPORT: list[str] = []


def await_alerts(fleet: Fleet, *, timeout: float) -> None:
    """Wait until every injected fault has an alert; note when each was first seen."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [f for f in fleet.faults.values() if f.alerted_at is None]
        if not waiting:
            return
        seen = set(
            DeviceAlert.objects.filter(
                device_id__in=[f.device_id for f in waiting], model_id="compressor_overload"
            ).values_list("device_id", flat=True)
        )
        now = time.monotonic()
        for fault in waiting:
            if fault.device_id in seen:
                fault.alerted_at = now
        if time.monotonic() > deadline:
            missing = [f.device_id for f in fleet.faults.values() if f.alerted_at is None]
            raise AssertionError(f"no alert after {timeout:g} s for the faults of {missing}")
        time.sleep(0.1)


def await_evaluated(fleet: Fleet, *, timeout: float) -> None:
    """Wait until the rules have evaluated every device through its last reading."""
    last = fleet.last_reading()
    deadline = time.monotonic() + timeout
    while True:
        marks = dict(
            StreamProgress.objects.filter(device_id__in=fleet.devices).values_list(
                "device_id", "evaluated_through"
            )
        )
        behind = [d for d in fleet.devices if marks.get(d) != last]
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(behind)} devices not evaluated through {last} after {timeout:g} s: "
                f"{[(d, marks.get(d)) for d in behind[:3]]}"
            )
        time.sleep(0.2)


def outcome(fleet: Fleet, *, case: str, recovery: float, bound: float) -> Outcome:
    """Compare what was sent with what is stored and alerted; record and print the row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT device_id, timestamp_utc, count(*) FROM clean_sensor_readings"
            " WHERE device_id = ANY(%s) GROUP BY 1, 2",
            [fleet.devices],
        )
        stored = {(d, t): n for d, t, n in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) - count(DISTINCT (device_id, timestamp_device))"
            " FROM raw_sensor_readings WHERE device_id = ANY(%s)",
            [fleet.devices],
        )
        raw_duplicates = cursor.fetchone()[0]
    expected = fleet.expected()
    alerts = list(
        DeviceAlert.objects.filter(device_id__in=fleet.devices).values_list("device_id", "model_id")
    )
    once = [
        f for f in fleet.faults.values() if alerts.count((f.device_id, "compressor_overload")) == 1
    ]
    result = Outcome(
        case=case,
        sent=len(expected),
        lost=len(expected - stored.keys()),
        duplicated=sum(n - 1 for n in stored.values())
        + raw_duplicates
        + len(stored.keys() - expected),
        faults=len(fleet.faults),
        alerted_once=len(once),
        other_alerts=len(alerts) - len(once),
        recovery=recovery,
        bound=bound,
    )
    RESULTS.append(result)
    return result


def alert_delay(fleet: Fleet, *, after: float) -> float:
    """Seconds from `after` (or a later due time) to the slowest fault's alert."""
    return max(
        (f.alerted_at - max(after, f.due_at or after) for f in fleet.faults.values()),
        default=0.0,
    )
