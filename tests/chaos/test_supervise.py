"""scripts/supervise.py, which `make run` and the chaos stack run FleetMon's processes under:
a process that exits is logged and started again while the others go on; SIGTERM stops
them all, a process that ignores it gets SIGKILL at the stop timeout."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chaos.stack import wait_for

ROOT = Path(__file__).resolve().parents[2]
SUPERVISE = ROOT / "scripts" / "supervise.py"
PY = sys.executable

pytestmark = [pytest.mark.live]


def supervise(tmp_path, *specs: str, stop_timeout: float = 3) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, str(SUPERVISE), "--log-dir", str(tmp_path), "--stop-timeout", str(stop_timeout)]
        + list(specs),
        stdout=(tmp_path / "supervise.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def log(tmp_path) -> str:
    return (tmp_path / "supervise.log").read_text()


def pid(tmp_path, name: str) -> int:
    return int((tmp_path / f"{name}.pid").read_text())


def stop(supervisor: subprocess.Popen) -> float:
    started = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    try:
        supervisor.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(supervisor.pid, signal.SIGKILL)
        raise
    return time.monotonic() - started


def test_a_killed_process_is_logged_and_restarted_while_the_others_go_on(tmp_path):
    sleeper = f"{PY} -c 'import time; time.sleep(600)'"
    supervisor = supervise(tmp_path, f"victim={sleeper}", f"bystander={sleeper}")
    try:
        wait_for(lambda: "started bystander" in log(tmp_path), timeout=10, what="the start")
        victim, bystander = pid(tmp_path, "victim"), pid(tmp_path, "bystander")
        os.killpg(victim, signal.SIGKILL)
        wait_for(
            lambda: log(tmp_path).count("started victim (") == 2,
            timeout=10,
            what="the victim's restart",
        )
        assert "victim exited (killed by SIGKILL)" in log(tmp_path)
        assert pid(tmp_path, "victim") != victim
        assert pid(tmp_path, "bystander") == bystander  # untouched
        assert log(tmp_path).count("started bystander (") == 1
    finally:
        took = stop(supervisor)
    assert supervisor.returncode == 0
    assert took < 3, log(tmp_path)


def test_a_process_that_keeps_crashing_is_restarted_with_growing_backoff(tmp_path):
    crasher = f"{PY} -c 'raise SystemExit(3)'"
    supervisor = supervise(tmp_path, f"crasher={crasher}")
    try:
        wait_for(
            lambda: log(tmp_path).count("started crasher (") >= 3,
            timeout=15,
            what="three starts",
        )
    finally:
        stop(supervisor)
    text = log(tmp_path)
    assert "crasher exited (exit code 3)" in text
    assert "restarting in 1 s" in text and "restarting in 2 s" in text


def test_sigterm_stops_everything_and_kills_what_ignores_it(tmp_path):
    stubborn = (
        f"{PY} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " time.sleep(600)'"
    )
    polite = f"{PY} -c 'import time; time.sleep(600)'"
    supervisor = supervise(tmp_path, f"stubborn={stubborn}", f"polite={polite}", stop_timeout=2)
    wait_for(lambda: "started polite" in log(tmp_path), timeout=10, what="the start")
    time.sleep(0.5)  # the stubborn one has set its handler
    pids = [pid(tmp_path, "stubborn"), pid(tmp_path, "polite")]
    took = stop(supervisor)
    text = log(tmp_path)
    assert "polite stopped in" in text
    assert "stubborn still running after 2 s: SIGKILL" in text
    assert 2 <= took < 5
    for gone in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(gone, 0)
