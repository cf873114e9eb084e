"""Per-device streaming state: what the rules remember between two readings.

Every window is bounded by time (never by reading count) and by a hard cap, so a device costs
O(1) memory however fast or irregularly it reports. The state is plain data: `to_dict` gives
JSON for a cache, `from_history` rebuilds it by replaying stored readings after a restart.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fleetmon.sensors import SENSOR_BY_NAME

if TYPE_CHECKING:
    from scoring.streaming.rules import Thresholds

# Looked up in the catalogue so a renamed sensor fails at import, not silently at run time.
CURRENT_COMPRESSOR = SENSOR_BY_NAME["current_compressor"].name
VIBRATION_COMPRESSOR = SENSOR_BY_NAME["vibration_compressor"].name
PRESSURE_LOW_SIDE = SENSOR_BY_NAME["pressure_low_side"].name
TEMPERATURE_EVAPORATOR = SENSOR_BY_NAME["temperature_evaporator"].name
DEFROST_CYCLE = SENSOR_BY_NAME["defrost_cycle"].name
DOOR_OPEN_CLOSE = SENSOR_BY_NAME["door_open_close"].name

STATE_VERSION = 1
# A device reporting far faster than once a minute must not grow its windows without bound;
# past this the oldest points go first (the pressure peak may then be slightly understated).
MAX_WINDOW_POINTS = 600
VIBRATION_HOURS = 24
# A step longer than this is a gap in the evaporator series: without the readings in between
# we cannot say the rise was sustained, and a CRITICAL alert needs that evidence.
EVAP_MAX_STEP = timedelta(minutes=2)

Point = tuple[datetime, float]


@dataclass(frozen=True)
class Reading:
    """One wide reading of one device; a missing or None value means the sensor was silent."""

    device_id: str
    timestamp: datetime
    values: Mapping[str, float | bool | None]

    def __post_init__(self) -> None:
        """Reject naive timestamps and normalise aware ones to UTC."""
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValueError(f"Reading timestamp must be timezone-aware: {self.timestamp!r}")
        # Frozen: set through object so every window compares UTC instants.
        object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))

    def number(self, sensor: str) -> float | None:
        """Return a numeric sensor's value, or None when it is missing or not a finite number."""
        value = _plain(self.values.get(sensor))
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    def flag(self, sensor: str) -> bool | None:
        """Return a boolean sensor's state, or None when it is missing."""
        value = _plain(self.values.get(sensor))
        if isinstance(value, bool):
            return value
        # Stored readings may carry booleans as 0/1 numbers.
        if isinstance(value, int | float) and math.isfinite(value):
            return value != 0
        return None


def _plain(value: Any) -> Any:
    """Unwrap a numpy scalar (a DataFrame row's value) without importing numpy."""
    # np.bool_ is neither bool nor int, so it would otherwise read as a silent sensor.
    return value.item() if hasattr(value, "item") else value


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _parse(ts: str | None) -> datetime | None:
    return None if ts is None else datetime.fromisoformat(ts).astimezone(UTC)


def _points(raw: Iterable[list[Any]]) -> deque[Point]:
    return deque(
        ((datetime.fromisoformat(ts).astimezone(UTC), float(v)) for ts, v in raw),
        maxlen=MAX_WINDOW_POINTS,
    )


def _hour(ts: datetime) -> int:
    return int(ts.timestamp() // 3600)


@dataclass
class DeviceState:
    """Everything the streaming rules need to know about one device, updated reading by reading."""

    device_id: str
    last_timestamp: datetime | None = None
    first_seen: datetime | None = None
    # Low-side pressure, a monotonic (decreasing) deque: the front is the window's peak.
    pressure_peaks: deque[Point] = field(default_factory=lambda: deque(maxlen=MAX_WINDOW_POINTS))
    # The current run of evaporator readings each rising faster than the limit.
    evap_run: deque[Point] = field(default_factory=lambda: deque(maxlen=MAX_WINDOW_POINTS))
    # Hourly (hour since epoch, sum, count) buckets of vibration, oldest first.
    vibration_buckets: deque[tuple[int, float, int]] = field(
        default_factory=lambda: deque(maxlen=VIBRATION_HOURS)
    )
    defrost_active: bool = False
    defrost_started: datetime | None = None
    defrost_ended: datetime | None = None
    door_open_since: datetime | None = None
    firing: set[str] = field(default_factory=set)

    # Pressure -----------------------------------------------------------------------------

    def pressure_peak(self, now: datetime, window: timedelta) -> Point | None:
        """Drop points older than `window` before `now` and return the highest one left."""
        while self.pressure_peaks and self.pressure_peaks[0][0] < now - window:
            self.pressure_peaks.popleft()
        return self.pressure_peaks[0] if self.pressure_peaks else None

    def add_pressure(self, ts: datetime, value: float) -> None:
        """Add a low-side reading; points it outranks can never be the peak again."""
        while self.pressure_peaks and self.pressure_peaks[-1][1] <= value:
            self.pressure_peaks.pop()
        self.pressure_peaks.append((ts, value))

    # Evaporator ---------------------------------------------------------------------------

    def add_evaporator(
        self, ts: datetime, value: float | None, min_rate: float, span: timedelta
    ) -> None:
        """Extend the rising run with this reading, or restart it on a gap or a slower step."""
        if value is None:
            self.evap_run.clear()
            return
        if self.evap_run:
            prev_ts, prev_value = self.evap_run[-1]
            step = ts - prev_ts
            rate = (value - prev_value) / (step.total_seconds() / 60)
            if step > EVAP_MAX_STEP or rate <= min_rate:
                self.evap_run.clear()
        self.evap_run.append((ts, value))
        # Keep only the shortest suffix that still covers `span`: enough to judge and to show.
        while len(self.evap_run) > 2 and ts - self.evap_run[1][0] >= span:
            self.evap_run.popleft()

    # Vibration ----------------------------------------------------------------------------

    def vibration_average(self, now: datetime) -> tuple[float, int]:
        """Drop buckets older than 24 h before `now`; return (mean, count) of the rest."""
        oldest = _hour(now) - VIBRATION_HOURS + 1
        while self.vibration_buckets and self.vibration_buckets[0][0] < oldest:
            self.vibration_buckets.popleft()
        # At most 24 buckets: summing them afresh is O(1) and avoids float drift between a
        # running total and the same state rebuilt from a cache.
        total = sum(b[1] for b in self.vibration_buckets)
        count = sum(b[2] for b in self.vibration_buckets)
        return (total / count if count else 0.0), count

    def add_vibration(self, ts: datetime, value: float) -> None:
        """Add a vibration reading to its hourly bucket."""
        hour = _hour(ts)
        if self.vibration_buckets and self.vibration_buckets[-1][0] == hour:
            _, total, count = self.vibration_buckets.pop()
            self.vibration_buckets.append((hour, total + value, count + 1))
        else:
            self.vibration_buckets.append((hour, value, 1))

    # Defrost and door ---------------------------------------------------------------------

    def update_switches(self, reading: Reading) -> None:
        """Track defrost and door episodes; a silent switch keeps its last known state."""
        ts = reading.timestamp
        defrost = reading.flag(DEFROST_CYCLE)
        if defrost and not self.defrost_active:
            self.defrost_active, self.defrost_started = True, ts
        elif defrost is False and self.defrost_active:
            self.defrost_active, self.defrost_started, self.defrost_ended = False, None, ts
        door = reading.flag(DOOR_OPEN_CLOSE)
        if door and self.door_open_since is None:
            self.door_open_since = ts
        elif door is False:
            self.door_open_since = None

    # Persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        return {
            "version": STATE_VERSION,
            "device_id": self.device_id,
            "last_timestamp": _iso(self.last_timestamp),
            "first_seen": _iso(self.first_seen),
            "pressure_peaks": [[_iso(ts), v] for ts, v in self.pressure_peaks],
            "evap_run": [[_iso(ts), v] for ts, v in self.evap_run],
            "vibration_buckets": [list(b) for b in self.vibration_buckets],
            "defrost_active": self.defrost_active,
            "defrost_started": _iso(self.defrost_started),
            "defrost_ended": _iso(self.defrost_ended),
            "door_open_since": _iso(self.door_open_since),
            "firing": sorted(self.firing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceState:
        """Rebuild a state from `to_dict` output; raise ValueError on another format version."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"DeviceState format version {data.get('version')!r} is not {STATE_VERSION}"
            )
        return cls(
            device_id=str(data["device_id"]),
            last_timestamp=_parse(data["last_timestamp"]),
            first_seen=_parse(data["first_seen"]),
            pressure_peaks=_points(data["pressure_peaks"]),
            evap_run=_points(data["evap_run"]),
            vibration_buckets=deque(
                ((int(h), float(s), int(c)) for h, s, c in data["vibration_buckets"]),
                maxlen=VIBRATION_HOURS,
            ),
            defrost_active=bool(data["defrost_active"]),
            defrost_started=_parse(data["defrost_started"]),
            defrost_ended=_parse(data["defrost_ended"]),
            door_open_since=_parse(data["door_open_since"]),
            firing=set(data["firing"]),
        )

    @classmethod
    def from_history(
        cls,
        readings: Iterable[Reading],
        thresholds: Thresholds,
        *,
        device_id: str | None = None,
    ) -> DeviceState:
        """Replay stored readings in time order, discarding firings, to rebuild a live state."""
        # Imported here: rules depends on this module, and replay must run the very same code.
        from scoring.streaming.rules import evaluate

        ordered = sorted(readings, key=lambda r: r.timestamp)
        if device_id is None:
            if not ordered:
                raise ValueError("from_history needs a device_id when there are no readings")
            device_id = ordered[0].device_id
        state = cls(device_id=device_id)
        for reading in ordered:
            evaluate(state, reading, thresholds)
        return state
