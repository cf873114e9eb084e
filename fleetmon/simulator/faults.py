"""Faults with ground truth: what can go wrong, when, and which physical cause it changes.

Django-free. A `FaultSpec` is the label the app stores. A fault never edits readings: it
changes a cause the physics responds to (charge, condenser fouling, frost, bearing wear,
infiltration, a binding or dead compressor, a restricted feed, a door held open, a defrost
that will not stop or never starts), so its signature is whatever the physics makes of
it. Only faults of the sensors and the link (a stuck sensor, dropouts) act on the
readings themselves (simulator.sensing).

Gradual faults develop at drawn rates, so their failure point typically falls 12–72 h
after onset; some fall beyond the simulated end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from fleetmon.simulator.doors import ForcedOpening
from fleetmon.simulator.drivers import BlockDrivers
from fleetmon.simulator.fleet import (
    VIBRATION,
    DeviceSpec,
    FleetLayout,
    epoch_minute,
    minute_datetime,
)


class FaultType(StrEnum):
    REFRIGERANT_LEAK = "refrigerant_leak"
    CONDENSER_FOULING = "condenser_fouling"
    EVAPORATOR_ICING = "evaporator_icing"
    BEARING_WEAR = "bearing_wear"
    DOOR_GASKET = "door_gasket"
    COMPRESSOR_OVERLOAD = "compressor_overload"
    LOW_SIDE_LOSS = "low_side_loss"
    COOLING_LOSS = "cooling_loss"
    DOOR_LEFT_OPEN = "door_left_open"
    DEFROST_STUCK = "defrost_stuck"
    MISSED_DEFROST = "missed_defrost"
    SENSOR_STUCK = "sensor_stuck"
    FULL_DROPOUT = "full_dropout"
    INTERMITTENT_DROPOUT = "intermittent_dropout"


GRADUAL_FAULTS: frozenset[FaultType] = frozenset(
    {
        FaultType.REFRIGERANT_LEAK,
        FaultType.CONDENSER_FOULING,
        FaultType.EVAPORATOR_ICING,
        FaultType.BEARING_WEAR,
        FaultType.DOOR_GASKET,
    }
)
ACUTE_FAULTS: frozenset[FaultType] = frozenset(
    {
        FaultType.COMPRESSOR_OVERLOAD,
        FaultType.LOW_SIDE_LOSS,
        FaultType.COOLING_LOSS,
        FaultType.DOOR_LEFT_OPEN,
        FaultType.DEFROST_STUCK,
        FaultType.MISSED_DEFROST,
        FaultType.SENSOR_STUCK,
    }
)
DATA_FAULTS: frozenset[FaultType] = frozenset(
    {FaultType.FULL_DROPOUT, FaultType.INTERMITTENT_DROPOUT}
)
# Last until the end of the planned period.
OPEN_ENDED: frozenset[FaultType] = GRADUAL_FAULTS | {FaultType.INTERMITTENT_DROPOUT}
# Faults that trip the equipment: their trip is a failure point on its own.
TRIPPING: frozenset[FaultType] = frozenset({FaultType.COMPRESSOR_OVERLOAD, FaultType.BEARING_WEAR})
# Acute faults start clear of a defrost and its pull-down: inside one they would be
# indistinguishable from it, and no operator would call that a fault onset.
_CLEAR_OF_DEFROST: frozenset[FaultType] = frozenset(
    {
        FaultType.COMPRESSOR_OVERLOAD,
        FaultType.LOW_SIDE_LOSS,
        FaultType.COOLING_LOSS,
        FaultType.DOOR_LEFT_OPEN,
    }
)
_DEFROST_CLEARANCE_MIN = 100  # the longest defrost plus its pull-down
_NEEDS_SCHEDULED_DEFROST: frozenset[FaultType] = frozenset(
    {FaultType.DEFROST_STUCK, FaultType.MISSED_DEFROST}
)
STUCK_SENSORS: tuple[str, ...] = (
    "temperature_evaporator",
    "temperature_suction",
    "temperature_discharge",
    "temperature_condenser",
    "temperature_ambient",
    "pressure_low_side",
    "pressure_high_side",
    "humidity",
)
_HOURS_TO_FAILURE = (14.0, 70.0)  # log-uniform scale of a gradual fault's development


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
    2. Give each type the next unused device that can show it (bearing wear needs a
       vibration sensor, defrost faults a scheduled defrost, a stuck sensor the sensor).
    3. Draw the onset, duration and cause parameters; keep acute faults clear of defrost,
       put a stuck defrost on a scheduled one; skip what will not fit.
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
            (d for d in order if d.device_id not in used and can_show(d, fault_type)), None
        )
        if device is None:
            continue
        fault = _plan_one(rng, device, fault_type, start_min, end_min)
        if fault is not None:
            used.add(device.device_id)
            faults.append(fault)
    return faults


def can_show(device: DeviceSpec, fault_type: FaultType) -> bool:
    """Return whether the device has what the fault needs to happen and to show."""
    if fault_type is FaultType.BEARING_WEAR:
        return device.has(VIBRATION)
    if fault_type in _NEEDS_SCHEDULED_DEFROST:
        return device.defrost_interval_min > 0
    return True


def _plan_one(
    rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType, lo: int, hi: int
) -> FaultSpec | None:
    """Draw one fault's window and params, or None when it does not fit in [lo, hi)."""
    span = hi - lo
    params = _draw_params(rng, device, fault_type)
    if fault_type in OPEN_ENDED:
        # Leave at least half the period for a gradual fault to develop.
        start = lo + int(rng.integers(span // 10, max(span // 2, span // 10 + 1)))
        end = hi
    else:
        duration = _duration_min(rng, device, fault_type)
        earliest = lo + span // 10
        latest = hi - duration - span // 20 - _room_min(device, fault_type)
        start = int(rng.integers(earliest, latest + 1)) if latest >= earliest else lo
        start = _adjust_start(device, fault_type, start)
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


def _room_min(device: DeviceSpec, fault_type: FaultType) -> int:
    """Return how far a drawn start may move later once adjusted to the defrost schedule."""
    if fault_type in _NEEDS_SCHEDULED_DEFROST:
        return device.defrost_interval_min
    if fault_type in _CLEAR_OF_DEFROST:
        return _DEFROST_CLEARANCE_MIN
    return 0


def _duration_min(rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType) -> int:
    """Draw how long a bounded fault lasts (until repaired), in minutes."""
    match fault_type:
        case FaultType.COMPRESSOR_OVERLOAD:
            return int(rng.integers(90, 241))
        case FaultType.LOW_SIDE_LOSS:
            return int(rng.integers(60, 241))
        case FaultType.COOLING_LOSS:
            return int(rng.integers(90, 361))
        case FaultType.DOOR_LEFT_OPEN:
            return int(rng.integers(20, 91))
        case FaultType.DEFROST_STUCK:
            return int(rng.integers(60, 181))
        case FaultType.MISSED_DEFROST:
            # Skipping 3-4 cycles leaves a gap of 4-5 intervals between defrosts.
            return int(rng.integers(3, 5)) * device.defrost_interval_min
        case FaultType.SENSOR_STUCK:
            return int(rng.integers(6 * 60, 36 * 60 + 1))
        case FaultType.FULL_DROPOUT:
            return int(rng.integers(90, 361))
    raise ValueError(f"{fault_type} is open-ended")


def _adjust_start(device: DeviceSpec, fault_type: FaultType, start: int) -> int:
    """Move a start onto the defrost schedule or clear of defrost, as the fault needs."""
    if device.defrost_interval_min == 0:
        return start
    (next_defrost,) = device.defrost_starts(start, start + device.defrost_interval_min)
    previous = next_defrost - device.defrost_interval_min
    if fault_type is FaultType.DEFROST_STUCK:
        # A stuck defrost is a scheduled defrost that fails to terminate.
        return next_defrost
    if fault_type is FaultType.MISSED_DEFROST:
        # The timer dies just after a defrost: the next ones never come.
        return previous + 1 if previous + 1 >= start else next_defrost + 1
    if fault_type in _CLEAR_OF_DEFROST and start < previous + _DEFROST_CLEARANCE_MIN:
        return previous + _DEFROST_CLEARANCE_MIN
    return start


def _hours_scale(rng: np.random.Generator) -> float:
    """Draw the development time scale of a gradual fault, log-uniform in hours."""
    lo, hi = _HOURS_TO_FAILURE
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _draw_params(
    rng: np.random.Generator, device: DeviceSpec, fault_type: FaultType
) -> dict[str, Any]:
    """Draw the JSON-serialisable cause parameters of one fault."""
    match fault_type:
        case FaultType.REFRIGERANT_LEAK:
            # Charge lost per hour; the coil starves once the receiver is empty.
            return {"charge_loss_per_h": round(0.45 / _hours_scale(rng), 5)}
        case FaultType.CONDENSER_FOULING:
            # Growth of the condenser approach, as a multiple of the clean one, per hour.
            return {"approach_growth_per_h": round(2.5 / _hours_scale(rng), 5)}
        case FaultType.EVAPORATOR_ICING:
            # A blocked drain refreezes melt water on the coil; iced fins hold more. Ice
            # builds while the coil runs below 0 °C, and a defrost melts only part of it.
            ice_ref = device.physics.frost_ref_kg
            return {
                "ice_kg_per_h": round(4.5 * ice_ref / _hours_scale(rng), 4),
                "melt_share": round(float(rng.uniform(0.2, 0.45)), 3),
            }
        case FaultType.BEARING_WEAR:
            return {"hours_to_seizure": round(_hours_scale(rng), 2)}
        case FaultType.DOOR_GASKET:
            # Infiltration through the gasket, as a share of an open door's, per hour.
            return {"leak_per_h": round(0.3 / _hours_scale(rng), 5), "leak_max": 0.35}
        case FaultType.COMPRESSOR_OVERLOAD:
            return {
                "current_factor": round(float(rng.uniform(1.5, 2.3)), 2),
                "trip_after_s": round(float(rng.uniform(180.0, 900.0))),
            }
        case FaultType.LOW_SIDE_LOSS:
            return {
                "feed": round(float(rng.uniform(0.04, 0.2)), 3),
                "ramp_s": round(float(rng.uniform(60.0, 180.0))),
            }
        case FaultType.SENSOR_STUCK:
            candidates = [s for s in STUCK_SENSORS if device.has(s)]
            return {"sensor": candidates[int(rng.integers(len(candidates)))]}
        case FaultType.INTERMITTENT_DROPOUT:
            return {"null_row_fraction": 0.3}
        case FaultType.MISSED_DEFROST:
            return {"interval_min": device.defrost_interval_min}
    return {}


# ---------------------------------------------------------------------------------------
# Causes: what each fault changes in the physics' inputs
# ---------------------------------------------------------------------------------------


def apply_fault(fault: FaultSpec, drivers: BlockDrivers, column: int, device: DeviceSpec) -> None:
    """Write the fault's cause into one device column of a block's inputs."""
    t0 = fault.start.timestamp()
    t1 = fault.end.timestamp()
    rows = drivers.window(t0, t1)
    if fault.fault_type is FaultType.COMPRESSOR_OVERLOAD:
        repair = drivers.window(t1, t1 + 1.0)
        if len(repair):
            drivers.dense("repair")[repair, column] = True
    if fault.fault_type is FaultType.DOOR_LEFT_OPEN:
        drivers.forced_doors.append(ForcedOpening(column, t0, t1))
    if fault.fault_type is FaultType.MISSED_DEFROST:
        drivers.defrost_suppressed.append((column, t0, t1))
    if fault.fault_type is FaultType.DEFROST_STUCK:
        drivers.defrost_forced.append((column, t0))
    if not len(rows):
        return
    hours = (drivers.seconds[rows] - t0) / 3600.0
    params = fault.params
    match fault.fault_type:
        case FaultType.REFRIGERANT_LEAK:
            loss = float(params.get("charge_loss_per_h", 0.01))
            drivers.dense("charge")[rows, column] = np.maximum(1.0 - loss * hours, 0.0)
        case FaultType.CONDENSER_FOULING:
            growth = float(params.get("approach_growth_per_h", 0.05))
            drivers.dense("fouling")[rows, column] = growth * hours
        case FaultType.EVAPORATOR_ICING:
            rate = float(params.get("ice_kg_per_h", 0.5)) / 3600.0
            drivers.dense("ice_rate")[rows, column] = rate
            drivers.dense("melt_share")[rows, column] = float(params.get("melt_share", 0.3))
        case FaultType.BEARING_WEAR:
            wear = hours / float(params.get("hours_to_seizure", 48.0))
            drivers.dense("wear")[rows, column] = np.minimum(wear, 1.0)
            drivers.dense("comp_blocked")[rows, column] |= wear >= 1.0
        case FaultType.DOOR_GASKET:
            share = np.minimum(
                float(params.get("leak_per_h", 0.02)) * hours, float(params.get("leak_max", 0.35))
            )
            drivers.dense("gasket")[rows, column] = share * device.physics.g_door
        case FaultType.COMPRESSOR_OVERLOAD:
            drivers.dense("overload")[rows, column] = float(params.get("current_factor", 1.8))
            drivers.trip_after()[column] = float(params.get("trip_after_s", 300.0))
        case FaultType.LOW_SIDE_LOSS:
            ramp = np.clip(hours * 3600.0 / float(params.get("ramp_s", 120.0)), 0.0, 1.0)
            floor = float(params.get("feed", 0.1))
            drivers.dense("feed")[rows, column] = 1.0 - (1.0 - floor) * ramp
        case FaultType.COOLING_LOSS:
            drivers.dense("comp_blocked")[rows, column] = True
        case FaultType.DEFROST_STUCK:
            drivers.dense("defrost_hold")[rows, column] = True


def seizure_time(fault: FaultSpec) -> datetime | None:
    """Return when a bearing-wear fault seizes the compressor, or None for other faults."""
    if fault.fault_type is not FaultType.BEARING_WEAR:
        return None
    hours = float(fault.params.get("hours_to_seizure", 48.0))
    minute = epoch_minute(fault.start) + math.ceil(hours * 60.0)
    return minute_datetime(minute) if minute < epoch_minute(fault.end) else None
