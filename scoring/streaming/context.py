"""What a device is doing, reading by reading (physics §1, §4): compressor running or
resting and for how long, defrosting or recovering from one, door open, restarting after
a silence; and the device's own baselines, learned only from its steady running.

`observe` updates the conditions before the rules judge a reading; `learn` feeds the
baselines after, with the readings that tripped nothing, so a fault never teaches the
device that it is normal.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from scoring.streaming.readings import (
    CURRENT_COMPRESSOR,
    DEFROST_CYCLE,
    DOOR_OPEN_CLOSE,
    PRESSURE_LOW_SIDE,
    TEMPERATURE_BOX,
    TEMPERATURE_EVAPORATOR,
    VIBRATION_COMPRESSOR,
    Reading,
)
from scoring.streaming.thresholds import Thresholds
from scoring.streaming.windows import HourlyBaseline, HourlyMax

# A compressor drawing less than this is resting, whatever the device has learned.
RUN_FLOOR_AMPS = 1.0
# Running: above the off level plus this share of the way to the running level.
RUN_SHARE = 0.35
# Readings before a baseline is trusted.
BASELINE_MIN = 20
# A device's rests are known after this many hours watched and normal rests seen in 24 h;
# watched that long with no rest at all, it runs continuously (capacity control). Most of a
# day: rests stretch in the cool of the night and shrink in the afternoon (physics §1).
REST_MIN_HOURS = 20
REST_MIN_COUNT = 6
# Rests in the last few hours before they say what a rest looks like now: a slow cycler
# rests only once or twice an hour.
RECENT_REST_MIN_COUNT = 5
# Defrosts remembered to learn the device's interval and usual length.
DEFROST_MEMORY = 7
# Hard cap of the coil window (the cooling window is at most 60 min of readings).
COIL_POINTS = 180
# Seconds kept beyond the cooling window, so its oldest reading is still in it.
COIL_SLACK = 120.0
# Readings further apart than this leave a hole a whole run or rest could hide in.
HOLE_SECONDS = 150.0


def _median(values) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class DeviceContext:
    """Conditions and baselines of one device; times are epoch seconds."""

    first_seen: float | None = None
    last_ts: float | None = None
    # Compressor: debounced (two readings agree before it switches), since when.
    running: bool | None = None
    since: float | None = None
    pending_since: float | None = None
    on_now: bool | None = None  # this reading's own verdict, before debouncing
    on_before: bool | None = None  # the previous reading's
    last_on: float | None = None  # the last reading that said running, confirmed or not
    restart_until: float | None = None
    # Defrost episodes and what the device's own defrosts look like.
    defrost_active: bool = False
    defrost_started: float | None = None
    defrost_clean: bool = False  # its start was seen (no silence since)
    defrost_ended: float | None = None
    defrost_starts: list[float] = field(default_factory=list)  # the last DEFROST_MEMORY
    defrost_lengths: list[float] = field(default_factory=list)
    defrost_interval: float | None = None  # learned, seconds between starts
    # Door.
    door_open_since: float | None = None
    door_closed_since: float | None = None
    # Normal rests: how long and how far the coil warms (off-cycle envelope, physics §1).
    rest_clean: bool = False
    rest_peak_now: float = 0.0
    rest_long: HourlyMax = field(default_factory=HourlyMax)
    rest_peak: HourlyMax = field(default_factory=HourlyMax)
    # Baselines from steady running (vibration: all running readings, never resting ones).
    amps_run: HourlyBaseline = field(default_factory=HourlyBaseline)
    amps_off: HourlyBaseline = field(default_factory=HourlyBaseline)
    lp_run: HourlyBaseline = field(default_factory=HourlyBaseline)
    coil_run: HourlyBaseline = field(default_factory=HourlyBaseline)
    box_run: HourlyBaseline = field(default_factory=HourlyBaseline)
    vibration: HourlyBaseline = field(default_factory=HourlyBaseline)
    # Recent coil readings (ts, °C) for the rise over the cooling window. Lists, not deques,
    # throughout: a few entries each, and an empty deque costs 760 bytes a device.
    coil: list[tuple[float, float]] = field(default_factory=list)

    # ------------------------------------------------------------------ conditions

    def observe(self, reading: Reading, ts: float, t: Thresholds) -> bool:
        """Update the conditions with a reading; return True when it ends a silence."""
        restarted = self.last_ts is not None and ts - self.last_ts > t.gap_minutes * 60
        if restarted:
            self._restart(ts, t)
        elif self.last_ts is not None and ts - self.last_ts > HOLE_SECONDS:
            # A whole run or rest may hide in a hole in the readings: count the current one
            # from here (shorter, so it never cries wolf) and do not learn from it.
            self.since = ts if self.since is not None else None
            self.pending_since, self.rest_clean = None, False
        if self.first_seen is None:
            self.first_seen = ts
        self.last_ts = ts
        self._defrost(reading.flag(DEFROST_CYCLE), ts)
        self._door(reading.flag(DOOR_OPEN_CLOSE), ts)
        self._compressor(reading.number(CURRENT_COMPRESSOR), ts)
        coil = reading.number(TEMPERATURE_EVAPORATOR)
        if coil is not None:
            self.coil.append((ts, coil))
        keep = ts - t.cooling_window_minutes * 60 - COIL_SLACK
        old = next((i for i, p in enumerate(self.coil) if p[0] >= keep), len(self.coil))
        del self.coil[: max(old, len(self.coil) - COIL_POINTS)]
        return restarted

    def _restart(self, ts: float, t: Thresholds) -> None:
        """After a silence (power loss, dropout) nothing before it describes the device now."""
        # TRICKY: the restart pull-down (warm coil, equalised pressures, physics §2) is
        # normal; the rules that would mistake it for a fault wait `restart_minutes`.
        self.restart_until = ts + t.restart_minutes * 60
        self.running = self.since = self.pending_since = None
        self.rest_clean = False
        self.coil.clear()
        if self.door_open_since is not None:
            self.door_open_since = ts
        if self.defrost_active:
            self.defrost_started, self.defrost_clean = ts, False

    def _defrost(self, flag: bool | None, ts: float) -> None:
        if flag and not self.defrost_active:
            self.defrost_active, self.defrost_started, self.defrost_clean = True, ts, True
            self.defrost_starts.append(ts)
            del self.defrost_starts[:-DEFROST_MEMORY]
            gaps = [b - a for a, b in pairwise(self.defrost_starts)]
            self.defrost_interval = _median(gaps)
            self.rest_clean = False
        elif flag is False and self.defrost_active:
            if self.defrost_clean and self.defrost_started is not None:
                self.defrost_lengths.append((ts - self.defrost_started) / 60)
                del self.defrost_lengths[:-DEFROST_MEMORY]
            self.defrost_active, self.defrost_started, self.defrost_ended = False, None, ts

    def _door(self, flag: bool | None, ts: float) -> None:
        # A door opened during a rest stays in the rest envelope: it shortens the rest and
        # warms the coil more, so the envelope only gets more tolerant.
        if flag:
            if self.door_open_since is None:
                self.door_open_since = ts
        elif flag is False and (self.door_open_since is not None or self.door_closed_since is None):
            self.door_open_since, self.door_closed_since = None, ts

    def _compressor(self, amps: float | None, ts: float) -> None:
        self.on_before = self.on_now
        if amps is None:
            self.on_now = None
            return
        on = self.on_now = amps > self.running_split(ts)
        if on:
            self.last_on = ts
        if self.running is None:
            self.running, self.since, self.pending_since = on, ts, None
        elif on == self.running:
            if self.pending_since is not None and not on:
                # A lone running reading in a rest: a glitch, or a run hidden in a hole in
                # the readings. Either way not a clean rest to learn from.
                self.rest_clean = False
            self.pending_since = None
        elif self.pending_since is None:
            # One reading is not a start or a stop: a glitch must not reset the run.
            self.pending_since = ts
        else:
            self._switch(on, self.pending_since)

    def _switch(self, on: bool, at: float) -> None:
        if on and self.rest_clean and self.since is not None:
            self.rest_long.add(at, (at - self.since) / 60)
            self.rest_peak.add(at, self.rest_peak_now)
        self.running, self.since, self.pending_since = on, at, None
        self.rest_clean = not on and not self.defrost_active
        self.rest_peak_now = 0.0

    def running_split(self, now: float) -> float:
        """The current (A) above which this device's compressor is running."""
        run = self.amps_run.value(now, BASELINE_MIN)
        if run is None:
            return RUN_FLOOR_AMPS
        off = self.amps_off.value(now, BASELINE_MIN) or 0.0
        return max(RUN_FLOOR_AMPS, off + RUN_SHARE * (run - off))

    def run_minutes(self, now: float) -> float:
        return (now - self.since) / 60 if self.running and self.since is not None else 0.0

    def rest_minutes(self, now: float) -> float:
        """Minutes since the compressor last ran, by any reading (glitch, or a run half hidden
        in a hole in the readings): the shorter rest never cries wolf."""
        if self.running is not False or self.since is None:
            return 0.0
        return (now - max(self.since, self.last_on or self.since)) / 60

    def recovering(self, now: float, t: Thresholds) -> bool:
        """Within the post-defrost delay (D10): pull-down, drip, box back into its band."""
        ended = self.defrost_ended
        return ended is not None and now < ended + t.post_defrost_minutes * 60

    def rest_disturbed(self, t: Thresholds) -> bool:
        """The current rest began after a defrost, in its recovery, or in a restart: how long
        it lasts depends on how far the pull-down overshot, not on the thermostat's usual
        cycle. (A rest that a defrost interrupted is not: the compressor must start after
        the drip.)"""
        start, ended = self.since, self.defrost_ended
        if start is None:
            return True
        if ended is not None and ended <= start < ended + t.post_defrost_minutes * 60:
            return True
        return self.restart_until is not None and start < self.restart_until

    def restarting(self, now: float) -> bool:
        return self.restart_until is not None and now < self.restart_until

    def quiet(self, now: float, t: Thresholds) -> bool:
        """Not defrosting, recovering, restarting, and the door is not open."""
        return not (
            self.defrost_active
            or self.recovering(now, t)
            or self.restarting(now)
            or self.door_open_since is not None
        )

    def pumping(self) -> bool:
        """Running, by this reading and the one before (a glitch alone is not a run)."""
        return self.running is True and self.on_now is True and self.on_before is True

    def steady(self, now: float, t: Thresholds) -> bool:
        """Running for a few minutes with nothing else going on: the device's normal."""
        return (
            self.running is True
            and self.on_now is not False
            and self.run_minutes(now) >= t.min_run_minutes
            and self.quiet(now, t)
        )

    def rest_envelope(self, now: float) -> tuple[float, float] | None:
        """(longest normal rest in min, highest coil over its running level in K) over 24 h;
        (0, 0) for a device that runs continuously; None while unknown."""
        hours, rests, longest = self.rest_long.stats(now)
        if hours < REST_MIN_HOURS:
            return None
        if rests == 0:
            return 0.0, 0.0
        if rests < REST_MIN_COUNT:
            return None
        return longest, self.rest_peak.stats(now)[2]

    def recent_rests(self, now: float, hours: int) -> tuple[float, float] | None:
        """(longest normal rest in min, highest coil over its running level in K) over the
        last `hours` hours, when they held enough rests to say what one looks like now."""
        _, rests, longest = self.rest_long.stats(now, hours)
        if rests < RECENT_REST_MIN_COUNT:
            return None
        return longest, self.rest_peak.stats(now, hours)[2]

    def usual_defrost_minutes(self) -> float | None:
        """The device's own usual defrost length, once it has done two."""
        return _median(self.defrost_lengths) if len(self.defrost_lengths) >= 2 else None

    # ------------------------------------------------------------------ learning

    def learn(self, reading: Reading, ts: float, t: Thresholds, tripped: set[str]) -> None:
        """Feed the baselines with this reading, unless a rule tripped on it."""
        amps = reading.number(CURRENT_COMPRESSOR)
        coil = reading.number(TEMPERATURE_EVAPORATOR)
        if self.steady(ts, t):
            self.rest_long.touch(ts)
            if amps is not None and "compressor_overload" not in tripped:
                self.amps_run.add(ts, amps)
            lp = reading.number(PRESSURE_LOW_SIDE)
            if lp is not None and "pressure_loss_acute" not in tripped:
                self.lp_run.add(ts, lp)
            if coil is not None and "cooling_loss_total" not in tripped:
                self.coil_run.add(ts, coil)
            box = reading.number(TEMPERATURE_BOX)
            if box is not None:
                self.box_run.add(ts, box)
        elif self.running is False and self.on_now is False and not self.defrost_active:
            if amps is not None and self.rest_minutes(ts) >= 1:
                self.amps_off.add(ts, amps)
        vib = reading.number(VIBRATION_COMPRESSOR)
        if (
            vib is not None
            and self.running is True
            and self.on_now is not False
            and not self.defrost_active
            and "vibration_spike" not in tripped
        ):
            self.vibration.add(ts, vib)
        if self.running is False and self.rest_clean:
            if (
                "cooling_loss_total" in tripped
                or self.defrost_active
                or self.recovering(ts, t)
                or self.restarting(ts)
            ):
                self.rest_clean = False  # a faulty or disturbed rest is not a normal one
            elif coil is not None:
                base = self.coil_run.value(ts, BASELINE_MIN)
                if base is not None:
                    self.rest_peak_now = max(self.rest_peak_now, coil - base)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        plain = {
            name: getattr(self, name)
            for name in (
                "first_seen",
                "last_ts",
                "running",
                "since",
                "pending_since",
                "on_now",
                "on_before",
                "last_on",
                "restart_until",
                "defrost_active",
                "defrost_started",
                "defrost_clean",
                "defrost_ended",
                "defrost_interval",
                "door_open_since",
                "door_closed_since",
                "rest_clean",
                "rest_peak_now",
            )
        }
        return {
            **plain,
            "defrost_starts": list(self.defrost_starts),
            "defrost_lengths": list(self.defrost_lengths),
            "coil": [list(p) for p in self.coil],
            **{name: getattr(self, name).to_list() for name in _HOURLY},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceContext:
        made = cls(**{k: v for k, v in data.items() if k not in _SPECIAL})
        made.defrost_starts = [float(v) for v in data["defrost_starts"]]
        made.defrost_lengths = [float(v) for v in data["defrost_lengths"]]
        made.coil = [(float(ts), float(v)) for ts, v in data["coil"]]
        for name, kind in _HOURLY.items():
            setattr(made, name, kind.from_list(data[name]))
        return made


_HOURLY: dict[str, type[HourlyBaseline] | type[HourlyMax]] = {
    "rest_long": HourlyMax,
    "rest_peak": HourlyMax,
    "amps_run": HourlyBaseline,
    "amps_off": HourlyBaseline,
    "lp_run": HourlyBaseline,
    "coil_run": HourlyBaseline,
    "box_run": HourlyBaseline,
    "vibration": HourlyBaseline,
}
_SPECIAL = {"defrost_starts", "defrost_lengths", "coil", *_HOURLY}
