"""Per-device streaming state and `evaluate`, the one loop every reading goes through.

The state is the device's context (scoring.streaming.context) plus, per rule, its k-of-n
window and the severity it stands at. Everything is bounded by time and by hard caps, so a
device costs the same memory however fast it reports. It is plain data: `to_dict` gives
JSON for a cache, `from_history` rebuilds it by replaying stored readings after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scoring.streaming.context import DeviceContext
from scoring.streaming.readings import Reading, at
from scoring.streaming.rules import (
    ACUTE,
    RANK,
    RULES,
    Check,
    Firing,
    Level,
    defrost_overdue,
    defrost_too_long,
    defrost_warming,
    door,
)
from scoring.streaming.thresholds import Thresholds
from scoring.streaming.windows import Persistence

__all__ = ["STATE_VERSION", "DeviceState", "Reading", "evaluate"]

STATE_VERSION = 2
# The longest a reading may lag the one before and still count towards a k-of-n window.
PERSIST_STEP = 120.0
# Stuck-defrost evidence must hold in this many of the last readings (a glitch is no proof).
WARMING_K, WARMING_N = 3, 4


@dataclass
class RuleMemory:
    """One rule's recent verdicts, the severity it stands at, and readings seen clear."""

    window: Persistence = field(default_factory=Persistence)
    level: str | None = None
    clear_run: int = 0

    def to_list(self) -> list[Any]:
        return [[list(p) for p in self.window.points], self.level, self.clear_run]

    @classmethod
    def from_list(cls, data: list[Any]) -> RuleMemory:
        points, level, clear_run = data
        window = Persistence((float(ts), bool(hit), float(v)) for ts, hit, v in points)
        return cls(window, level, int(clear_run))


@dataclass
class DeviceState:
    """Everything the streaming rules know about one device, updated reading by reading."""

    device_id: str
    context: DeviceContext = field(default_factory=DeviceContext)
    memory: dict[str, RuleMemory] = field(default_factory=dict)

    @property
    def last_timestamp(self):
        last = self.context.last_ts
        return None if last is None else at(last)

    def rule(self, name: str) -> RuleMemory:
        memory = self.memory.get(name)
        if memory is None:
            memory = self.memory[name] = RuleMemory()
        return memory

    def level(self, name: str) -> str | None:
        """The severity `name` stands at now (None: not firing)."""
        memory = self.memory.get(name)
        return memory.level if memory else None

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        return {
            "version": STATE_VERSION,
            "device_id": self.device_id,
            "context": self.context.to_dict(),
            "memory": {name: m.to_list() for name, m in sorted(self.memory.items())},
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
            context=DeviceContext.from_dict(data["context"]),
            memory={name: RuleMemory.from_list(m) for name, m in data["memory"].items()},
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
        ordered = sorted(readings, key=lambda r: r.timestamp)
        if device_id is None:
            if not ordered:
                raise ValueError("from_history needs a device_id when there are no readings")
            device_id = ordered[0].device_id
        state = cls(device_id=device_id)
        for reading in ordered:
            evaluate(state, reading, thresholds)
        return state


def evaluate(state: DeviceState, reading: Reading, thresholds: Thresholds) -> list[Firing]:
    """Update `state` with `reading` and return the rules that fired or escalated on it.

    1. Ignore a reading at or before the last one processed (replays, duplicates).
    2. Update the device's context (compressor, defrost, door, restart after a silence).
    3. Acute rules: push the verdict into the rule's k-of-n window; fire when k trip and the
       rule is armed; re-arm after k readings in a row on the safe side of the clear level.
       A lone tripping reading that the next one contradicts is a LOW `sensor_spike` note.
    4. Duration rules: fire when the severity they stand at rises; re-arm when it is gone.
    5. Feed the device's baselines with what tripped nothing.
    """
    if reading.device_id != state.device_id:
        raise ValueError(f"Reading for {reading.device_id!r} given to {state.device_id!r}")
    now = reading.timestamp.timestamp()
    c, t = state.context, thresholds
    previous = c.last_ts
    if previous is not None and now <= previous:
        return []
    if c.observe(reading, now, t):
        for memory in state.memory.values():
            memory.window.clear()  # readings either side of a silence never add up

    firings: list[Firing] = []
    tripped: set[str] = set()
    spikes: list[tuple[str, tuple[float, bool, float], Check]] = []
    for name, (check_of, prefix) in ACUTE.items():
        check = check_of(c, reading, now, t)
        if check is None:
            continue
        memory = state.rule(name)
        n = getattr(t, f"{prefix}_persist_n")
        k = min(getattr(t, f"{prefix}_persist_k"), n)
        hits = memory.window.push(now, check.trip, check.value, n, PERSIST_STEP)
        if check.trip:
            tripped.add(name)
        if memory.level is not None:
            memory.clear_run = memory.clear_run + 1 if check.clear and not check.trip else 0
            if memory.clear_run >= k:
                memory.level, memory.clear_run = None, 0
                memory.window.clear()
        elif hits >= k:
            memory.level, memory.clear_run = RULES[name].severity, 0
            firings.append(_acute_firing(state, name, reading, check, memory, k, n))
        elif not check.trip and (lone := memory.window.lone_trip()) is not None:
            if lone[0] == previous:  # contradicted by the very next reading
                spikes.append((name, lone, check))

    warming = state.rule("defrost_too_long").window
    if c.defrost_active:
        warming.push(now, defrost_warming(c, reading, now, t), 0.0, WARMING_N, PERSIST_STEP)
    else:
        warming.clear()
    evidence = sum(1 for p in warming.points if p[1]) >= WARMING_K
    levels = {
        "defrost_too_long": defrost_too_long(c, reading, now, t, evidence),
        "defrost_overdue": defrost_overdue(c, reading, now, t),
        "door_open_too_long": door(c, reading, now, t),
    }
    for name, level in levels.items():
        if level is None:
            continue
        memory = state.rule(name)
        if level.severity is None:
            memory.level = None
        elif RANK[level.severity] > RANK[memory.level]:
            memory.level = level.severity
            firings.append(_level_firing(state, name, reading, level))

    if spikes:
        firings.append(_spike_firing(state, reading, spikes))
    c.learn(reading, now, t, tripped)
    return firings


def _acute_firing(
    state: DeviceState,
    name: str,
    reading: Reading,
    check: Check,
    memory: RuleMemory,
    k: int,
    n: int,
) -> Firing:
    spec = RULES[name]
    hits = memory.window.tripped()
    message = (
        f"{spec.description}: {check.context}; {len(hits)} of the last "
        f"{len(memory.window.points)} readings beyond it (needs {k} of {n})"
    )
    return Firing(
        rule=name,
        severity=spec.severity,
        device_id=state.device_id,
        at=reading.timestamp,
        sensor=spec.sensor,
        value=check.value,
        threshold=check.limit,
        evidence=tuple((at(ts), value) for ts, value in hits),
        message=message,
    )


def _level_firing(state: DeviceState, name: str, reading: Reading, level: Level) -> Firing:
    spec = RULES[name]
    assert level.severity is not None
    start = at(level.since) if level.since is not None else reading.timestamp
    flag = 0.0 if name == "defrost_overdue" else 1.0
    return Firing(
        rule=name,
        severity=level.severity,
        device_id=state.device_id,
        at=reading.timestamp,
        sensor=spec.sensor,
        value=level.value,
        threshold=level.limit,
        evidence=((start, flag), (reading.timestamp, flag)),
        message=level.message,
    )


def _spike_firing(
    state: DeviceState, reading: Reading, spikes: list[tuple[str, tuple[float, bool, float], Check]]
) -> Firing:
    name, (ts, _, value), check = spikes[0]
    parts = [
        f"{_LABELS[rule].lower()} {lone[2]:.1f} {_UNITS[rule]} (next reading: {later.value:.1f})"
        for rule, lone, later in spikes
    ]
    return Firing(
        rule="sensor_spike",
        severity="LOW",
        device_id=state.device_id,
        at=reading.timestamp,
        sensor=RULES[name].sensor,
        value=value,
        threshold=check.limit,
        evidence=((at(ts), value), (reading.timestamp, check.value)),
        message=(
            f"A single reading beyond its trip level, contradicted by the next one: "
            f"{'; '.join(parts)}. A sensor glitch, not a fault"
        ),
    )


_LABELS = {
    "compressor_overload": "Compressor current",
    "vibration_spike": "Compressor vibration",
    "pressure_loss_acute": "Low-side pressure",
    "cooling_loss_total": "Evaporator (above its running level)",
}
_UNITS = {
    "compressor_overload": "A",
    "vibration_spike": "mm/s",
    "pressure_loss_acute": "kPa",
    "cooling_loss_total": "K",
}
