#!/usr/bin/env python3
"""Run named commands, restart any that exits, stop them all on SIGTERM or SIGINT.

    supervise.py [--log-dir DIR] [--pid-dir DIR] [--stop-timeout S] NAME=COMMAND ...

`make run` (scripts/run.sh) and the chaos tests run FleetMon's processes under it; in
production systemd does this job (deploy/). Standard library only, so it starts even when
the virtualenv is broken.

1. Each command starts in a session of its own (its own process group), with its output
   appended to DIR/NAME.log; its pid is written to DIR/NAME.pid on every start.
2. A command that exits is logged with its exit code and started again after a backoff:
   1 s, doubling up to 30 s, back to 1 s once it has run for 60 s.
3. On SIGTERM or SIGINT every group gets SIGTERM; what still runs after --stop-timeout
   seconds gets SIGKILL. The supervisor exits 0 when all have stopped.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

FIRST_BACKOFF, MAX_BACKOFF, HEALTHY_AFTER = 1.0, 30.0, 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_dir: Path
    pid_dir: Path
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        with (self.log_dir / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started_at = time.monotonic()
        self.restart_at = None
        (self.pid_dir / f"{self.name}.pid").write_text(f"{self.process.pid}\n")
        say(f"started {self.name} (pid {self.process.pid})")

    def check(self, now: float) -> None:
        """Notice an exit and schedule the restart; start it when its backoff is over."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        ran = now - self.started_at
        if ran >= HEALTHY_AFTER:
            self.backoff = FIRST_BACKOFF
        say(
            f"{self.name} exited ({describe(code)}) after {ran:.1f} s;"
            f" restarting in {self.backoff:g} s"
        )
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def signal_group(self, sig: int) -> None:
        """Signal the whole group: it outlives its leader while a member runs."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def describe(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def say(text: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"{stamp} supervise: {text}\n")
    sys.stderr.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", type=Path, default=Path("var/log"))
    parser.add_argument("--pid-dir", type=Path, help="default: the log folder")
    parser.add_argument("--stop-timeout", type=float, default=10.0)
    parser.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args(argv)
    for spec in args.commands:
        if "=" not in spec:
            parser.error(f"expected NAME=COMMAND, got {spec!r}")
    return args


def stop_all(children: list[Child], timeout: float) -> None:
    """SIGTERM every group, then SIGKILL what outlives the timeout."""
    started = time.monotonic()
    running = [c for c in children if c.running()]
    for child in children:
        child.restart_at = None
    for child in running:
        child.signal_group(signal.SIGTERM)
    deadline = started + timeout
    while running and time.monotonic() < deadline:
        for child in [c for c in running if not c.running()]:
            say(f"{child.name} stopped in {time.monotonic() - started:.1f} s")
            running.remove(child)
        time.sleep(0.05)
    for child in children:
        if child.running():
            say(f"{child.name} still running after {timeout:g} s: SIGKILL")
            child.signal_group(signal.SIGKILL)
        if child.process is not None:
            child.process.wait()
            # A member that outlived its leader (an orphaned pool process) goes too.
            child.signal_group(signal.SIGKILL)
    say(f"stopped in {time.monotonic() - started:.1f} s")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pid_dir = args.pid_dir or args.log_dir
    args.log_dir.mkdir(parents=True, exist_ok=True)
    pid_dir.mkdir(parents=True, exist_ok=True)
    children = []
    for spec in args.commands:
        name, command = spec.split("=", 1)
        children.append(Child(name, shlex.split(command), args.log_dir, pid_dir))

    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    for child in children:
        child.start()
    while not stopping:
        now = time.monotonic()
        for child in children:
            child.check(now)
        time.sleep(0.2)
    say(f"{signal.Signals(stopping[0]).name}: stopping {len(children)} processes")
    stop_all(children, args.stop_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
