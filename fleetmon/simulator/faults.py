"""Fault injection with ground truth: what can go wrong, when, and how it shows in readings.

Django-free. A `FaultSpec` is the label the app stores; the `apply_to_*` hooks are how the
generator makes the readings show it. Effects are pure functions of the minute, like the
readings themselves, so a fault looks the same whichever chunk of time is generated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from fleetmon.simulator.fleet import (
    DEFROST_RECOVERY_MIN,
    VIBRATION,
    DeviceSpec,
    FleetLayout,
    defrost_cycle_start,
    epoch_minute,
    minute_datetime,
)

EVAP = "temperature_evaporator"
CURRENT = "current_compressor"
LOW_SIDE = "pressure_low_side"


Stage = Literal["unit", "probe"]


class FaultType(StrEnum):
    COMPRESSOR_VIBRATION_SPIKE = "compressor_vibration_spike"
    REFRIGERANT_LEAK = "refrigerant_leak"
    TEMPERATURE_DRIFT = "temperature_drift"
    SENSOR_FAILURE = "sensor_failure"
    INTERMITTENT_DROPOUT = "intermittent_dropout"
    COMPRESSOR_OVERLOAD = "compressor_overload"
    PRESSURE_LOSS_ACUTE = "pressure_loss_acute"
    COOLING_LOSS_TOTAL = "cooling_loss_total"
    DOOR_LEFT_OPEN = "door_left_open"
    DEFROST_TOO_LONG = "defrost_too_long"
    MISSED_DEFROST = "missed_defrost"
    FULL_DROPOUT = "full_dropout"


# Gradual or permanent faults last until the end of the simulated period.
OPEN_ENDED: frozenset[FaultType] = frozenset(
    {
        FaultType.COMPRESSOR_VIBRATION_SPIKE,
        FaultType.REFRIGERANT_LEAK,
        FaultType.TEMPERATURE_DRIFT,
        FaultType.SENSOR_FAILURE,
        FaultType.INTERMITTENT_DROPOUT,
        FaultType.PRESSURE_LOSS_ACUTE,
    }
)
# Faults a streaming rule should catch; they start clear of defrost, which suppresses rules.
_CLEAR_OF_DEFROST: frozenset[FaultType] = frozenset(
    {
        FaultType.COMPRESSOR_OVERLOAD,
        FaultType.PRESSURE_LOSS_ACUTE,
        FaultType.COOLING_LOSS_TOTAL,
        FaultType.DOOR_LEFT_OPEN,
    }
)
# Faults of the reading rather than of the unit: applied after the physics.
_PROBE_FAULTS: frozenset[FaultType] = frozenset({FaultType.SENSOR_FAILURE})
_POST_DEFROST_MARGIN_MIN = 60  # beyond the 30 min rule suppression after a defrost
_MAX_DEFROST_MIN = 40  # longest scheduled defrost, per-cycle jitter included


@dataclass(frozen=True)
class FaultSpec:
    """Ground truth: `device_id` has `fault_type` over [start, end) with these params."""

    device_id: str
    fault_type: FaultType
    start: datetime
    end: datetime
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Labels read back from the database arrive with a plain string type.
        object.__setattr__(self, "fault_type", FaultType(self.fault_type))
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("fault start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("fault end must be after its start")

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the label."""
        return {
            "device_id": self.device_id,
            "fault_type": str(self.fault_type),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "params": dict(self.params),
        }


@dataclass
class Block:
    """Mutable arrays of one block of readings, shaped (minutes, devices)."""

    minutes: np.ndarray  # (T,) int64 epoch minutes
    values: dict[str, np.ndarray]  # numeric sensor -> (T, D) float64
    present: np.ndarray  # (T, D) bool; False = the device sent nothing that minute
    all_null: np.ndarray  # (T, D) bool; True = a message with every sensor null
    row_uniform: np.ndarray  # (T, D) float64 in [0, 1), counter-based, one per row


# ---------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------


def plan_faults(
    fleet: FleetLayout,
    *,
    seed: int,
    start: datetime,
    end: datetime,
    fraction: float = 0.05,
    types: Sequence[FaultType | str] | None = None,
) -> list[FaultSpec]:
    """Pick about `fraction` of the devices and give each one fault starting in [start, end).

    1. Shuffle the devices with the seed; cycle through the fault types in order.
    2. Give each type the next unused device that can show it (vibration needs the sensor).
    3. Draw the start and duration, keep acute faults clear of defrost, skip what won't fit.
    """
    start_min, end_min = epoch_minute(start), epoch_minute(end)
    if end_min <= start_min:
        raise ValueError("end must be after start")
    chosen = [FaultType(t) for t in types] if types is not None else list(FaultType)
    n_faults = min(len(fleet.devices), math.ceil(fraction * len(fleet.devices)))
    if not chosen or n_faults == 0:
        return []
    rng = np.random.default_rng(seed)
    order = [fleet.devices[i] for i in rng.permutation(len(fleet.devices))]
    used: set[str] = set()
    faults = []
    for i in range(n_faults):
        fault_type = chosen[i % len(chosen)]
        device = next(
            (d for d in order if d.device_id not in used and _can_show(d, fault_type)), None
        )
        if device is None:
            continue
        fault = _plan_one(rng, device, fault_type, start_min, end_min)
        if fault is not None:
            used.add(device.device_id)
            faults.append(fault)
    return faults


def _can_show(device: DeviceSpec, fault_type: FaultType) -> bool:
    """Return whether the device has the sensors the fault's signature needs."""
    return fault_type is not FaultType.COMPRESSOR_VIBRATION_SPIKE or device.has(VIBRATION)


def _plan_one(
    rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType, lo: int, hi: int
) -> FaultSpec | None:
    """Draw one fault's window and params, or None when it does not fit in [lo, hi)."""
    span = hi - lo
    params = _draw_params(rng, device, fault_type)
    if fault_type in OPEN_ENDED:
        # Leave at least half the period for a gradual fault to develop.
        start = lo + int(rng.integers(span // 10, max(span // 2, span // 10 + 1)))
        start = _adjust_start(device, fault_type, start, 0)
        end = hi
    else:
        duration = _duration_min(rng, device, fault_type)
        earliest = lo + span // 10
        latest = hi - _room_min(device, fault_type, duration) - span // 20
        start = int(rng.integers(earliest, latest + 1)) if latest >= earliest else lo
        start = _adjust_start(device, fault_type, start, duration)
        end = start + duration
        params["duration_min"] = duration
    if start < lo or end > hi or end <= start:
        return None
    return FaultSpec(
        device_id=device.device_id,
        fault_type=fault_type,
        start=minute_datetime(start),
        end=minute_datetime(end),
        params=params,
    )


def _room_min(device: DeviceSpec, fault_type: FaultType, duration: int) -> int:
    """Return how far after a drawn start the fault may end once its start is adjusted."""
    if fault_type is FaultType.DEFROST_TOO_LONG:
        return duration + device.defrost_interval_min  # waits for the next scheduled defrost
    if fault_type in _CLEAR_OF_DEFROST:
        return duration + _MAX_DEFROST_MIN + _POST_DEFROST_MARGIN_MIN
    return duration


def _duration_min(rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType) -> int:
    """Draw how long a bounded fault lasts, in minutes."""
    match fault_type:
        case FaultType.COMPRESSOR_OVERLOAD:
            return int(rng.integers(20, 61))
        case FaultType.COOLING_LOSS_TOTAL:
            return int(rng.integers(120, 361))
        case FaultType.DOOR_LEFT_OPEN:
            return int(rng.integers(25, 61))
        case FaultType.DEFROST_TOO_LONG:
            return int(rng.integers(60, 91))
        case FaultType.MISSED_DEFROST:
            # Skipping every cycle for 3 intervals leaves a gap > 2 intervals whatever the phase.
            return 3 * device.defrost_interval_min
        case FaultType.FULL_DROPOUT:
            return int(rng.integers(90, 361))
    raise ValueError(f"{fault_type} is open-ended")


def _adjust_start(device: DeviceSpec, fault_type: FaultType, start: int, duration: int) -> int:
    """Move a start onto the defrost schedule or clear of defrost, as the fault needs."""
    cycle = defrost_cycle_start(device, start)
    if fault_type is FaultType.DEFROST_TOO_LONG:
        # A too-long defrost is a scheduled defrost that fails to terminate.
        return cycle if cycle == start else cycle + device.defrost_interval_min
    if fault_type not in _CLEAR_OF_DEFROST:
        return start
    start = max(start, cycle + _MAX_DEFROST_MIN + _POST_DEFROST_MARGIN_MIN)
    short = fault_type in (FaultType.COMPRESSOR_OVERLOAD, FaultType.DOOR_LEFT_OPEN)
    next_cycle = cycle + device.defrost_interval_min
    if short and start + duration + 5 > next_cycle:
        start = next_cycle - duration - 5
    return start


def _draw_params(
    rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType
) -> dict[str, Any]:
    """Draw the JSON-serialisable parameters of one fault."""
    warm_gap = _warm_gap(device)
    match fault_type:
        case FaultType.COMPRESSOR_VIBRATION_SPIKE:
            return {"vibration_factor": 4.0, "current_factor": 1.5}
        case FaultType.REFRIGERANT_LEAK:
            return {
                "lp_loss_per_h": 0.03,
                "lp_floor_factor": 0.3,
                "evap_rise_c_per_h": 0.5,
                "evap_rise_cap_c": warm_gap,
            }
        case FaultType.TEMPERATURE_DRIFT:
            return {"evap_rise_c_per_h": 0.2, "evap_rise_cap_c": warm_gap}
        case FaultType.SENSOR_FAILURE:
            # Spec §6 sticks the probe at -25.0; stick it at the unit's own set point instead
            # so the fault shows only as zero variance, not as a jump.
            return {"sensor": EVAP, "stuck_value": round(device.mean(EVAP), 1)}
        case FaultType.INTERMITTENT_DROPOUT:
            return {"null_row_fraction": 0.3}
        case FaultType.COMPRESSOR_OVERLOAD:
            return {"current_a": round(float(rng.uniform(42.0, 48.0)), 1)}
        case FaultType.PRESSURE_LOSS_ACUTE:
            return {
                "lp_factor": round(float(rng.uniform(0.35, 0.55)), 2),
                "ramp_min": int(rng.integers(2, 4)),
            }
        case FaultType.COOLING_LOSS_TOTAL:
            plateau = device.mean("temperature_ambient") - 2.0
            # Rise at 2.5–4 °C/min for at least 5 minutes: clearly above the 2 °C/min rule.
            gap = plateau - device.mean(EVAP)
            shortest = max(5, math.ceil(gap / 4.0))
            longest = max(shortest, math.floor(gap / 2.5))
            return {
                "plateau_c": round(plateau, 1),
                "rise_min": int(rng.integers(shortest, longest + 1)),
            }
        case FaultType.DOOR_LEFT_OPEN:
            return {
                "evap_rise_c_per_min": round(float(rng.uniform(0.08, 0.2)), 2),
                "evap_rise_cap_c": 6.0,
            }
        case FaultType.DEFROST_TOO_LONG:
            return {}
        case FaultType.MISSED_DEFROST:
            return {"interval_min": device.defrost_interval_min}
        case FaultType.FULL_DROPOUT:
            return {}
    raise ValueError(f"unknown fault type {fault_type}")


def _warm_gap(device: DeviceSpec) -> float:
    """Return how far the evaporator can warm before it reaches the ambient temperature."""
    return round(max(0.0, device.mean("temperature_ambient") - 2.0 - device.mean(EVAP)), 1)


# ---------------------------------------------------------------------------------------
# Hooks the generator calls
# ---------------------------------------------------------------------------------------


def apply_to_defrost(
    fault: FaultSpec, minutes: np.ndarray, cycle_start: np.ndarray, duration: np.ndarray
) -> None:
    """Stretch or suppress the defrost cycles of one device column, in place.

    `cycle_start[t]` is the epoch minute the cycle covering minute t began and `duration[t]`
    that cycle's length; a duration of 0 means no defrost and no recovery.
    """
    m0, m1 = epoch_minute(fault.start), epoch_minute(fault.end)
    if fault.fault_type in (FaultType.MISSED_DEFROST, FaultType.COOLING_LOSS_TOTAL):
        duration[(cycle_start >= m0) & (cycle_start < m1)] = 0
    elif fault.fault_type is FaultType.DEFROST_TOO_LONG:
        settle = m1 + DEFROST_RECOVERY_MIN
        # Any scheduled cycle that would start during the long defrost or its recovery is
        # swallowed by it.
        duration[(minutes >= settle) & (cycle_start > m0) & (cycle_start < settle)] = 0
        inside = (minutes >= m0) & (minutes < settle)
        cycle_start[inside] = m0
        duration[inside] = m1 - m0


def apply_to_door(fault: FaultSpec, minutes: np.ndarray, door_open: np.ndarray) -> None:
    """Hold the door open over the fault window of one device column, in place."""
    if fault.fault_type is FaultType.DOOR_LEFT_OPEN:
        m0, m1 = epoch_minute(fault.start), epoch_minute(fault.end)
        door_open[(minutes >= m0) & (minutes < m1)] = True


def apply_to_block(
    fault: FaultSpec, block: Block, column: int, device: DeviceSpec, *, stage: Stage
) -> None:
    """Make one device column of a block show the fault's signature, in place.

    The generator calls this twice: at the "unit" stage, before defrost and door physics,
    so a stopped compressor or a heated coil still wins over a unit fault; and at the
    "probe" stage, after them, for faults of the reading itself (a stuck probe).
    """
    if (fault.fault_type in _PROBE_FAULTS) != (stage == "probe"):
        return
    effect = _EFFECTS.get(fault.fault_type)
    if effect is not None:
        effect(_Window(fault, block, column, device))


@dataclass
class _Window:
    """The rows of one device column a fault touches, and the minutes since its start."""

    fault: FaultSpec
    block: Block
    column: int
    device: DeviceSpec

    @property
    def duration(self) -> int:
        return epoch_minute(self.fault.end) - epoch_minute(self.fault.start)

    def rows(self, tail_min: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Return block rows in [start, end + tail) and their minutes since the start."""
        elapsed = self.block.minutes - epoch_minute(self.fault.start)
        rows = np.flatnonzero((elapsed >= 0) & (elapsed < self.duration + tail_min))
        return rows, elapsed[rows].astype(np.float64)

    def param(self, name: str, default: float) -> float:
        return float(self.fault.params.get(name, default))

    def scale(self, sensor: str, rows: np.ndarray, factor: np.ndarray | float) -> None:
        self.block.values[sensor][rows, self.column] *= factor

    def shift(self, sensor: str, rows: np.ndarray, offset: np.ndarray | float) -> None:
        self.block.values[sensor][rows, self.column] += offset

    def put(self, sensor: str, rows: np.ndarray, value: np.ndarray | float) -> None:
        self.block.values[sensor][rows, self.column] = value

    def get(self, sensor: str, rows: np.ndarray) -> np.ndarray:
        return self.block.values[sensor][rows, self.column]


def _ramp(elapsed: np.ndarray, minutes: float) -> np.ndarray:
    """Return 0→1 over the first `minutes` of the fault, then 1."""
    return np.minimum(elapsed / minutes, 1.0)


def _vibration_spike(w: _Window) -> None:
    """Multiply vibration (×4) and current (×1.5): a failing bearing or foreign object."""
    rows, _ = w.rows()
    w.scale(VIBRATION, rows, w.param("vibration_factor", 4.0))
    w.scale(CURRENT, rows, w.param("current_factor", 1.5))


def _refrigerant_leak(w: _Window) -> None:
    """Bleed low-side pressure by 3 %/h (floor 30 %) and warm the evaporator 0.5 °C/h."""
    rows, elapsed = w.rows()
    hours = elapsed / 60.0
    loss = w.param("lp_loss_per_h", 0.03)
    w.scale(LOW_SIDE, rows, np.maximum(w.param("lp_floor_factor", 0.3), 1.0 - loss * hours))
    cap = w.param("evap_rise_cap_c", _warm_gap(w.device))
    w.shift(EVAP, rows, np.minimum(w.param("evap_rise_c_per_h", 0.5) * hours, cap))
    # Undercharge: superheat climbs and subcooling falls (domain §10.3).
    w.shift("superheat", rows, np.minimum(0.5 * hours, 15.0))
    w.shift("subcooling", rows, -np.minimum(0.1 * hours, 4.0))


def _temperature_drift(w: _Window) -> None:
    """Warm the evaporator by 0.2 °C/h: icing or blocked airflow."""
    rows, elapsed = w.rows()
    cap = w.param("evap_rise_cap_c", _warm_gap(w.device))
    w.shift(EVAP, rows, np.minimum(w.param("evap_rise_c_per_h", 0.2) * elapsed / 60.0, cap))


def _sensor_failure(w: _Window) -> None:
    """Stick one probe at a constant value."""
    rows, _ = w.rows()
    sensor = str(w.fault.params.get("sensor", EVAP))
    w.put(sensor, rows, w.param("stuck_value", -25.0))


def _intermittent_dropout(w: _Window) -> None:
    """Send about 30 % of the messages with every sensor null."""
    rows, _ = w.rows()
    drop = w.block.row_uniform[rows, w.column] < w.param("null_row_fraction", 0.3)
    w.block.all_null[rows[drop], w.column] = True


def _compressor_overload(w: _Window) -> None:
    """Hold the compressor current above 40 A (binding or failing bearings)."""
    rows, _ = w.rows()
    # Keep a little of the normal wiggle so the overload is not a flat line.
    wiggle = 0.15 * (w.get(CURRENT, rows) - w.device.mean(CURRENT))
    w.put(CURRENT, rows, w.param("current_a", 45.0) + np.clip(wiggle, -1.5, 1.5))
    w.scale(VIBRATION, rows, 1.5)
    w.shift("temperature_discharge", rows, 15.0)


def _pressure_loss_acute(w: _Window) -> None:
    """Drop the low-side pressure by half within minutes and keep it there: a rapid leak."""
    rows, elapsed = w.rows()
    drop = 1.0 - w.param("lp_factor", 0.45)
    w.scale(LOW_SIDE, rows, 1.0 - drop * _ramp(elapsed, w.param("ramp_min", 3)))
    settle = _ramp(elapsed, 30.0)
    w.shift("superheat", rows, 10.0 * settle)
    w.shift("subcooling", rows, -3.0 * settle)
    w.scale(CURRENT, rows, 1.0 - 0.2 * settle)
    w.shift(EVAP, rows, np.minimum(elapsed / 60.0, _warm_gap(w.device)))


def _cooling_loss_total(w: _Window) -> None:
    """Stop the compressor: the evaporator climbs > 2 °C/min, then sits near ambient."""
    rows, elapsed = w.rows(tail_min=60)
    inside = elapsed < w.duration
    mean = w.device.mean(EVAP)
    rise = w.param("plateau_c", w.device.mean("temperature_ambient") - 2.0) - mean
    # After the repair the box pulls down again over ~half an hour.
    recovery = np.exp(-np.maximum(elapsed - w.duration, 0.0) / 10.0)
    weight = np.where(inside, _ramp(elapsed, w.param("rise_min", 8)), recovery)
    evap = w.get(EVAP, rows)
    # With the compressor off the coil no longer follows the load: its swings damp out.
    w.put(EVAP, rows, evap + weight * (rise - 0.7 * (evap - mean)))
    rows, elapsed = rows[inside], elapsed[inside]
    w.put(CURRENT, rows, 0.2)
    w.put(VIBRATION, rows, 0.2)
    settle = _ramp(elapsed, 20.0)
    w.scale("pressure_high_side", rows, 1.0 - 0.3 * settle)
    w.scale(LOW_SIDE, rows, 1.0 + 0.25 * settle)
    w.shift("temperature_discharge", rows, -25.0 * _ramp(elapsed, 60.0))
    cond_gap = w.device.mean("temperature_condenser") - w.device.mean("temperature_ambient")
    w.shift("temperature_condenser", rows, -max(cond_gap - 3.0, 0.0) * settle)


def _door_left_open(w: _Window) -> None:
    """Warm the evaporator slowly and humidify the box while the door stays open."""
    rows, elapsed = w.rows(tail_min=60)
    inside = elapsed < w.duration
    rate, cap = w.param("evap_rise_c_per_min", 0.12), w.param("evap_rise_cap_c", 6.0)
    peak = min(rate * w.duration, cap)
    closed = peak * np.exp(-np.maximum(elapsed - w.duration, 0.0) / 10.0)
    w.shift(EVAP, rows, np.where(inside, np.minimum(rate * elapsed, cap), closed))
    w.shift("humidity", rows[inside], 10.0 * _ramp(elapsed[inside], 10.0))


def _full_dropout(w: _Window) -> None:
    """Send nothing at all."""
    rows, _ = w.rows()
    w.block.present[rows, w.column] = False


_EFFECTS: dict[FaultType, Callable[[_Window], None]] = {
    FaultType.COMPRESSOR_VIBRATION_SPIKE: _vibration_spike,
    FaultType.REFRIGERANT_LEAK: _refrigerant_leak,
    FaultType.TEMPERATURE_DRIFT: _temperature_drift,
    FaultType.SENSOR_FAILURE: _sensor_failure,
    FaultType.INTERMITTENT_DROPOUT: _intermittent_dropout,
    FaultType.COMPRESSOR_OVERLOAD: _compressor_overload,
    FaultType.PRESSURE_LOSS_ACUTE: _pressure_loss_acute,
    FaultType.COOLING_LOSS_TOTAL: _cooling_loss_total,
    FaultType.DOOR_LEFT_OPEN: _door_left_open,
    FaultType.FULL_DROPOUT: _full_dropout,
}
