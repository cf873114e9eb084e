"""The streaming rules (domain §4.2, D4, D10): thresholds, firings and `evaluate`.

Rules are edge-triggered: a rule fires on the reading where its condition becomes true and
re-arms only after a reading where it is false. A reading that cannot decide a rule (its
sensor is silent, or a temperature rule is suppressed around a defrost) neither fires nor
re-arms it, so a flapping sensor cannot re-send the same alert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from scoring.streaming.state import (
    CURRENT_COMPRESSOR,
    DEFROST_CYCLE,
    DOOR_OPEN_CLOSE,
    PRESSURE_LOW_SIDE,
    TEMPERATURE_EVAPORATOR,
    VIBRATION_COMPRESSOR,
    DeviceState,
    Point,
    Reading,
)

Severity = Literal["CRITICAL", "HIGH", "MEDIUM"]


class RuleSpec(NamedTuple):
    severity: Severity
    sensor: str
    description: str


RULES: dict[str, RuleSpec] = {
    "compressor_overload": RuleSpec(
        "CRITICAL", CURRENT_COMPRESSOR, "Compressor current above the overload limit"
    ),
    "vibration_spike": RuleSpec(
        "CRITICAL", VIBRATION_COMPRESSOR, "Compressor vibration a multiple of its 24 h average"
    ),
    "pressure_loss_acute": RuleSpec(
        "CRITICAL", PRESSURE_LOW_SIDE, "Low-side pressure fell sharply within minutes"
    ),
    "cooling_loss_total": RuleSpec(
        "CRITICAL", TEMPERATURE_EVAPORATOR, "Evaporator temperature rising fast for minutes"
    ),
    "defrost_too_long": RuleSpec("MEDIUM", DEFROST_CYCLE, "Defrost running past its maximum"),
    "defrost_overdue": RuleSpec("MEDIUM", DEFROST_CYCLE, "No defrost for twice the interval"),
    "door_open_too_long": RuleSpec("HIGH", DOOR_OPEN_CLOSE, "Door open continuously too long"),
}


@dataclass(frozen=True)
class Thresholds:
    """Rule limits for one device; per-device or cohort overrides are another instance."""

    compressor_overload_amps: float = 40.0
    vibration_spike_factor: float = 3.0
    vibration_min_history: int = 60
    pressure_drop_fraction: float = 0.30
    pressure_drop_window_min: float = 5
    evap_rise_c_per_min: float = 2.0
    evap_rise_minutes: float = 3
    post_defrost_minutes: float = 30
    defrost_max_minutes: float = 45
    defrost_interval_hours: float = 8.0
    door_open_max_minutes: float = 15

    def __post_init__(self) -> None:
        """Reject non-numeric, non-finite and negative limits."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"Threshold {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Threshold {f.name} must be finite and >= 0, got {value!r}")
        if self.vibration_min_history != int(self.vibration_min_history):
            raise ValueError(
                f"Threshold vibration_min_history must be a whole number of readings, "
                f"got {self.vibration_min_history!r}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        """Build thresholds from settings, ignoring unknown keys; numeric strings are accepted."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"Threshold {key} must be a number, got {value!r}") from None
            kwargs[key] = value
        if "vibration_min_history" in kwargs:
            count = kwargs["vibration_min_history"]
            if isinstance(count, float) and count.is_integer():
                kwargs["vibration_min_history"] = int(count)
        return cls(**kwargs)


@dataclass(frozen=True)
class Firing:
    """A rule that started firing on one reading, with the readings that prove it."""

    rule: str
    severity: Severity
    device_id: str
    at: datetime
    sensor: str
    value: float
    threshold: float
    evidence: tuple[Point, ...]
    message: str


# What one rule concluded from one reading: None when the reading cannot decide it.
Verdict = tuple[float, float, tuple[Point, ...], str] | None
Outcome = tuple[bool | None, Verdict]


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _compressor(reading: Reading, t: Thresholds) -> Outcome:
    amps = reading.number(CURRENT_COMPRESSOR)
    if amps is None:
        return None, None
    limit = t.compressor_overload_amps
    msg = f"Compressor current {amps:.1f} A above {limit:g} A"
    return amps > limit, (amps, limit, ((reading.timestamp, amps),), msg)


def _vibration(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    value = reading.number(VIBRATION_COMPRESSOR)
    if value is None:
        return None, None
    # Compare with the average *before* adding this reading, so a spike cannot hide itself.
    mean, count = state.vibration_average(reading.timestamp)
    state.add_vibration(reading.timestamp, value)
    # An all-zero history (compressor stopped) has no scale to spike against.
    if count < t.vibration_min_history or mean <= 0:
        return None, None
    limit = t.vibration_spike_factor * mean
    msg = (
        f"Compressor vibration {value:.1f} mm/s above {t.vibration_spike_factor:g}x "
        f"its 24 h average of {mean:.2f} mm/s"
    )
    return value > limit, (value, limit, ((reading.timestamp, value),), msg)


def _pressure(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    value = reading.number(PRESSURE_LOW_SIDE)
    if value is None:
        return None, None
    window = timedelta(minutes=t.pressure_drop_window_min)
    peak = state.pressure_peak(reading.timestamp, window)
    state.add_pressure(reading.timestamp, value)
    if peak is None or peak[1] <= 0:
        return False, None
    peak_ts, peak_value = peak
    drop = (peak_value - value) / peak_value
    msg = (
        f"Low-side pressure fell {drop:.0%} in {_minutes(reading.timestamp - peak_ts):.0f} min, "
        f"from {peak_value:.0f} to {value:.0f} kPa"
    )
    evidence = ((peak_ts, peak_value), (reading.timestamp, value))
    limit = peak_value * (1 - t.pressure_drop_fraction)
    return drop > t.pressure_drop_fraction, (value, limit, evidence, msg)


def _cooling(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    now = reading.timestamp
    span = timedelta(minutes=t.evap_rise_minutes)
    value = reading.number(TEMPERATURE_EVAPORATOR)
    # Track the run even while suppressed, so a real rise is caught as soon as the delay ends.
    state.add_evaporator(now, value, t.evap_rise_c_per_min, span)
    if value is None:
        return None, None
    # D10: a defrost heats the evaporator faster than the limit on purpose.
    post = timedelta(minutes=t.post_defrost_minutes)
    if state.defrost_active or (
        state.defrost_ended is not None and now < state.defrost_ended + post
    ):
        return None, None
    run = tuple(state.evap_run)
    if len(run) < 2 or now - run[0][0] < span:
        return False, None
    slowest = min((b[1] - a[1]) / _minutes(b[0] - a[0]) for a, b in zip(run, run[1:], strict=False))
    msg = (
        f"Evaporator temperature rose {value - run[0][1]:.1f} °C in "
        f"{_minutes(now - run[0][0]):.0f} min, over {t.evap_rise_c_per_min:g} °C/min throughout"
    )
    return True, (slowest, t.evap_rise_c_per_min, run, msg)


def _defrost_too_long(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    if reading.flag(DEFROST_CYCLE) is None:
        return None, None
    started = state.defrost_started
    if not state.defrost_active or started is None:
        return False, None
    minutes = _minutes(reading.timestamp - started)
    limit = t.defrost_max_minutes
    msg = f"Defrost running for {minutes:.0f} min, over {limit:g} min"
    evidence = ((started, 1.0), (reading.timestamp, 1.0))
    return minutes > limit, (minutes, limit, evidence, msg)


def _defrost_overdue(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    if reading.flag(DEFROST_CYCLE) is None:
        return None, None
    since = state.defrost_ended or state.first_seen
    if state.defrost_active or since is None:
        return False, None
    hours = (reading.timestamp - since).total_seconds() / 3600
    limit = 2 * t.defrost_interval_hours
    msg = f"No defrost for {hours:.1f} h, over {limit:g} h"
    evidence = ((since, 0.0), (reading.timestamp, 0.0))
    return hours > limit, (hours, limit, evidence, msg)


def _door(state: DeviceState, reading: Reading, t: Thresholds) -> Outcome:
    if reading.flag(DOOR_OPEN_CLOSE) is None:
        return None, None
    opened = state.door_open_since
    if opened is None:
        return False, None
    minutes = _minutes(reading.timestamp - opened)
    limit = t.door_open_max_minutes
    msg = f"Door open for {minutes:.0f} min, over {limit:g} min"
    evidence = ((opened, 1.0), (reading.timestamp, 1.0))
    return minutes > limit, (minutes, limit, evidence, msg)


def evaluate(state: DeviceState, reading: Reading, thresholds: Thresholds) -> list[Firing]:
    """Update `state` with `reading` and return the rules that started firing on it.

    1. Ignore a reading at or before the last one processed (replays, duplicates).
    2. Update the defrost and door episodes, then judge each rule in `RULES` order.
    3. Fire a rule whose condition is true and was not already firing; re-arm a false one.
    """
    if reading.device_id != state.device_id:
        raise ValueError(f"Reading for {reading.device_id!r} given to {state.device_id!r}")
    now = reading.timestamp
    if state.last_timestamp is not None and now <= state.last_timestamp:
        return []
    state.last_timestamp = now
    if state.first_seen is None:
        state.first_seen = now
    state.update_switches(reading)

    outcomes: dict[str, Outcome] = {
        "compressor_overload": _compressor(reading, thresholds),
        "vibration_spike": _vibration(state, reading, thresholds),
        "pressure_loss_acute": _pressure(state, reading, thresholds),
        "cooling_loss_total": _cooling(state, reading, thresholds),
        "defrost_too_long": _defrost_too_long(state, reading, thresholds),
        "defrost_overdue": _defrost_overdue(state, reading, thresholds),
        "door_open_too_long": _door(state, reading, thresholds),
    }
    firings: list[Firing] = []
    for rule, (condition, verdict) in outcomes.items():
        if condition is None:
            continue
        if not condition:
            state.firing.discard(rule)
            continue
        if rule in state.firing or verdict is None:
            continue
        state.firing.add(rule)
        value, limit, evidence, message = verdict
        spec = RULES[rule]
        firings.append(
            Firing(
                rule=rule,
                severity=spec.severity,
                device_id=state.device_id,
                at=now,
                sensor=spec.sensor,
                value=value,
                threshold=limit,
                evidence=evidence,
                message=message,
            )
        )
    return firings
