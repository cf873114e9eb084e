"""Covariate shift: a warmer (or cooler) outdoors from some moment on, for the whole fleet or
one region, as a heat wave or a season would bring it (domain §5.2, drift types).

The shift is an input to the physics, not an edit of readings: the outdoor temperature
rises, walk-in condensing units see it fully, display cases only through the store air,
and everything that follows from it follows (condensing temperature and pressure,
discharge, current, longer runs). No fault is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from fleetmon.simulator.ambient import OutdoorOffset
from fleetmon.simulator.faults import FaultSpec
from fleetmon.simulator.fleet import FleetLayout
from fleetmon.simulator.generator import FleetGenerator


@dataclass(frozen=True)
class CovariateShift:
    """`ambient_c` degrees more outdoors from `start` (until `end`, if given), in `region`
    (every region when blank)."""

    start: datetime
    ambient_c: float
    region: str = ""
    end: datetime | None = None

    def device_ids(self, fleet: FleetLayout) -> list[str]:
        """Return the devices the shift reaches."""
        return [d.device_id for d in fleet.devices if not self.region or d.region == self.region]


class ShiftedFleetGenerator(FleetGenerator):
    """A FleetGenerator whose outdoor temperature carries covariate shifts."""

    def __init__(
        self,
        fleet: FleetLayout,
        faults: Sequence[FaultSpec],
        *,
        seed: int,
        shifts: Sequence[CovariateShift] = (),
        **kwargs,
    ) -> None:
        super().__init__(fleet, faults, seed=seed, **kwargs)
        self.shifts = tuple(shifts)
        for shift in self.shifts:
            columns = np.array([self._column[i] for i in shift.device_ids(fleet)], dtype=np.int64)
            end = shift.end.timestamp() if shift.end is not None else np.inf
            self._outdoor_offsets.append(
                OutdoorOffset(columns, shift.start.timestamp(), end, float(shift.ambient_c))
            )
