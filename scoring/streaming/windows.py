"""Bounded per-device memories: hourly baselines over the last 24 h and k-of-n windows.

Baselines are 24 hourly buckets in fixed-size arrays (a ring keyed by the hour), so a
device costs the same few hundred bytes however fast it reports, and the state serialises
as short lists. Times are epoch seconds (floats): cheaper to compare than datetimes on
every reading.
"""

from __future__ import annotations

import statistics
from array import array
from collections.abc import Iterable
from typing import Any

HOURS = 24
# A completed hour with fewer steady readings than this says little about the device.
MIN_BUCKET_READINGS = 5
# Hard cap of a k-of-n window: the largest n the threshold limits allow.
MAX_WINDOW = 60


def hour_of(ts: float) -> int:
    return int(ts // 3600)


class _Ring:
    """24 hourly slots; a slot belongs to the hour stored in `hours` (-1: empty)."""

    __slots__ = ("hours",)

    def __init__(self) -> None:
        self.hours = array("q", [-1] * HOURS)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_list() == other.to_list()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def _slot(self, hour: int) -> tuple[int, bool]:
        """Return the slot of `hour` and whether it had to be claimed (reset) for it."""
        i = hour % HOURS
        if self.hours[i] == hour:
            return i, False
        self.hours[i] = hour
        return i, True

    def _live(self, now: float) -> Iterable[int]:
        """Slots holding one of the 24 hours up to and including `now`'s."""
        current = hour_of(now)
        return (i for i in range(HOURS) if current - HOURS < self.hours[i] <= current)


class HourlyBaseline(_Ring):
    """A device's own level of one quantity: the median of its hourly means over 24 h.

    The median of hourly means shrugs off an hour of fault or an odd afternoon, and still
    follows a lasting change within half a day.
    """

    __slots__ = ("_cache", "counts", "sums")

    def __init__(self) -> None:
        super().__init__()
        self.sums = array("d", [0.0] * HOURS)
        self.counts = array("l", [0] * HOURS)
        self._cache: tuple[int, float | None] | None = None

    def add(self, ts: float, value: float) -> None:
        i, fresh = self._slot(hour_of(ts))
        if fresh:
            self.sums[i], self.counts[i] = 0.0, 0
            self._cache = None
        self.sums[i] += value
        self.counts[i] += 1

    def value(self, now: float, min_count: int = 20) -> float | None:
        """The baseline at `now`, or None until `min_count` readings were seen."""
        current = hour_of(now)
        if self._cache is not None and self._cache[0] == current:
            return self._cache[1]
        live = list(self._live(now))
        done = [
            self.sums[i] / self.counts[i]
            for i in live
            if self.hours[i] < current and self.counts[i] >= MIN_BUCKET_READINGS
        ]
        if done:
            # Completed hours only: cached for the rest of the hour.
            self._cache = (current, statistics.median(done))
            return self._cache[1]
        count = sum(self.counts[i] for i in live)
        # TRICKY: during the first hour the pooled mean stands in, recomputed every reading.
        return sum(self.sums[i] for i in live) / count if count >= min_count else None

    def mean(self, now: float) -> tuple[float, int]:
        """(mean, count) of every reading of the last 24 h, the current hour included."""
        live = list(self._live(now))
        count = sum(self.counts[i] for i in live)
        return (sum(self.sums[i] for i in live) / count if count else 0.0), count

    def to_list(self) -> list[list[float]]:
        kept = (i for i in range(HOURS) if self.hours[i] >= 0)
        return [[self.hours[i], self.sums[i], self.counts[i]] for i in kept]

    @classmethod
    def from_list(cls, rows: Iterable[list[Any]]) -> HourlyBaseline:
        made = cls()
        for hour, total, count in rows:
            i = int(hour) % HOURS
            made.hours[i], made.sums[i], made.counts[i] = int(hour), float(total), int(count)
        return made


class HourlyMax(_Ring):
    """The largest value and the number of values per hour over 24 h; an hour can be
    marked observed with none."""

    __slots__ = ("counts", "maxes")

    def __init__(self) -> None:
        super().__init__()
        self.maxes = array("d", [0.0] * HOURS)
        self.counts = array("l", [0] * HOURS)

    def add(self, ts: float, value: float) -> None:
        i, fresh = self._slot(hour_of(ts))
        if fresh:
            self.maxes[i], self.counts[i] = value, 1
        else:
            self.maxes[i], self.counts[i] = max(self.maxes[i], value), self.counts[i] + 1

    def touch(self, ts: float) -> None:
        """Count the hour as observed (with nothing in it unless something is added)."""
        i, fresh = self._slot(hour_of(ts))
        if fresh:
            self.maxes[i], self.counts[i] = 0.0, 0

    def stats(self, now: float, hours: int = HOURS) -> tuple[int, int, float]:
        """(hours observed, values, largest value) over the `hours` hours up to `now` (the
        current one included)."""
        current = hour_of(now)
        live = [i for i in self._live(now) if self.hours[i] > current - hours]
        count = sum(self.counts[i] for i in live)
        return len(live), count, max((self.maxes[i] for i in live), default=0.0)

    def to_list(self) -> list[list[float]]:
        kept = (i for i in range(HOURS) if self.hours[i] >= 0)
        return [[self.hours[i], self.maxes[i], self.counts[i]] for i in kept]

    @classmethod
    def from_list(cls, rows: Iterable[list[Any]]) -> HourlyMax:
        made = cls()
        for hour, value, count in rows:
            i = int(hour) % HOURS
            made.hours[i], made.maxes[i], made.counts[i] = int(hour), float(value), int(count)
        return made


class Persistence:
    """The last n decided readings of one rule: (time, tripped, value), newest last.

    A rule trips when k of them are beyond its trip level. Entries older than n times
    `step` are forgotten, so readings either side of a silence never add up.
    """

    __slots__ = ("points",)

    def __init__(self, points: Iterable[tuple[float, bool, float]] = ()) -> None:
        # A list, not a deque: a handful of entries, and an empty deque costs 760 bytes.
        self.points: list[tuple[float, bool, float]] = list(points)[-MAX_WINDOW:]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Persistence) and self.points == other.points

    __hash__ = None  # type: ignore[assignment]

    def push(self, ts: float, tripped: bool, value: float, n: int, step: float) -> int:
        """Add a reading, keep the last `n` within `n * step` seconds; return how many trip."""
        points = self.points
        points.append((ts, tripped, value))
        keep = min(n, MAX_WINDOW)
        if len(points) > keep:
            del points[: len(points) - keep]
        oldest = ts - n * step
        while points and points[0][0] < oldest:
            del points[0]
        return sum(1 for p in points if p[1])

    def lone_trip(self) -> tuple[float, bool, float] | None:
        """The previous reading, when it was the only one tripping and the newest does not."""
        points = self.points
        if len(points) < 2 or points[-1][1] or not points[-2][1]:
            return None
        if any(p[1] for p in points[:-2]):
            return None
        return points[-2]

    def tripped(self) -> list[tuple[float, float]]:
        return [(ts, value) for ts, hit, value in self.points if hit]

    def clear(self) -> None:
        self.points.clear()
