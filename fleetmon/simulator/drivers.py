"""The exogenous inputs of a block of steps: weather, doors, power, schedules and causes.

Faults and events do not edit readings; they change what drives the physics (a charge
that leaks, a fouled condenser, a door held open, a site without power). Arrays that
nothing changes stay constant and cost nothing; the first writer gets a dense copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fleetmon.simulator.ambient import Ambient, OutdoorOffset
from fleetmon.simulator.doors import ForcedOpening
from fleetmon.simulator.physics import StepInputs

# Name -> value when nothing acts on it.
DEFAULTS: dict[str, float | bool] = {
    "powered": True,
    "defrost_hold": False,
    "comp_blocked": False,
    "repair": False,
    "charge": 1.0,
    "fouling": 0.0,
    "feed": 1.0,
    "ice_rate": 0.0,
    "melt_share": 1.0,
    "gasket": 0.0,
    "overload": 1.0,
    "wear": 0.0,
    "product_heat": 0.0,
}


@dataclass
class BlockDrivers:
    """Inputs of `n_steps` consecutive steps starting at epoch second `first_s`."""

    seconds: np.ndarray  # (step,) epoch seconds at each step's start
    n_devices: int
    forced_doors: list[ForcedOpening] = field(default_factory=list)
    offsets: list[OutdoorOffset] = field(default_factory=list)
    defrost_suppressed: list[tuple[int, float, float]] = field(default_factory=list)
    defrost_forced: list[tuple[int, float]] = field(default_factory=list)
    overload_trip_s: np.ndarray | None = None
    _dense: dict[str, np.ndarray] = field(default_factory=dict)
    # Filled by the generator once the writers above have spoken.
    ambient: Ambient | None = None
    door: np.ndarray | None = None
    door_reading: np.ndarray | None = None
    defrost_due: np.ndarray | None = None

    def window(self, start_s: float, end_s: float) -> np.ndarray:
        """Return the step indices whose start lies in [start_s, end_s)."""
        lo = int(np.searchsorted(self.seconds, start_s, side="left"))
        hi = int(np.searchsorted(self.seconds, end_s, side="left"))
        return np.arange(lo, hi)

    def dense(self, name: str) -> np.ndarray:
        """Return the writable (step, device) array of one input."""
        if name not in self._dense:
            default = DEFAULTS[name]
            dtype = bool if isinstance(default, bool) else np.float64
            self._dense[name] = np.full((len(self.seconds), self.n_devices), default, dtype)
        return self._dense[name]

    def trip_after(self) -> np.ndarray:
        """Return the writable per-device overload trip time (s), infinite by default."""
        if self.overload_trip_s is None:
            self.overload_trip_s = np.full(self.n_devices, np.inf)
        return self.overload_trip_s

    def touched(self, name: str) -> bool:
        """Return whether anything changed this input in the block."""
        return name in self._dense

    def step_inputs(self, i: int, constants: dict[str, np.ndarray]) -> StepInputs:
        """Return the inputs of step i; `constants` holds the (device,) default arrays."""
        assert self.ambient is not None and self.door is not None and self.defrost_due is not None
        values = {
            name: (self._dense[name][i] if name in self._dense else constants[name])
            for name in DEFAULTS
        }
        trip = self.overload_trip_s if self.overload_trip_s is not None else constants["trip"]
        return StepInputs(
            t_unit=self.ambient.unit_c[i],
            t_room=self.ambient.room_c[i],
            room_vapour=self.ambient.room_vapour_pa[i],
            door=self.door[i],
            defrost_due=self.defrost_due[i],
            overload_trip_s=trip,
            **values,
        )


def constant_inputs(n_devices: int) -> dict[str, np.ndarray]:
    """Return the read-only default (device,) arrays of every input."""
    out: dict[str, np.ndarray] = {}
    for name, default in DEFAULTS.items():
        dtype = bool if isinstance(default, bool) else np.float64
        out[name] = np.full(n_devices, default, dtype)
        out[name].flags.writeable = False
    out["trip"] = np.full(n_devices, np.inf)
    out["trip"].flags.writeable = False
    return out
