"""Covariate shift: a warmer (or cooler) ambient from some moment on, for the whole fleet or
one region, as a heat wave or a season would bring it (domain §5.2, drift types).

The shift follows the same physics as a climate zone (simulator.fleet): the unit sees the
ambient offset damped by its equipment's climate exposure, and the condenser side follows
it (condenser, discharge, high-side pressure). Nothing else moves, so the models' other
inputs stay as they were: a pure covariate shift, no fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from fleetmon.sensors import SENSOR_BY_NAME
from fleetmon.simulator.faults import FaultSpec
from fleetmon.simulator.fleet import _CLIMATE_COUPLING, FleetLayout
from fleetmon.simulator.generator import FleetGenerator


@dataclass(frozen=True)
class CovariateShift:
    """`ambient_c` degrees more ambient from `start` (until `end`, if given), in `region`
    (every region when blank)."""

    start: datetime
    ambient_c: float
    region: str = ""
    end: datetime | None = None

    def offsets(self, fleet: FleetLayout) -> dict[str, dict[str, float]]:
        """Per affected device, the additive offset of each sensor it moves."""
        moved = {}
        for device in fleet.devices:
            if self.region and device.region != self.region:
                continue
            ambient = self.ambient_c * device.profile.climate_exposure
            moved[device.device_id] = {
                "temperature_ambient": ambient,
                **{sensor: k * ambient for sensor, k in _CLIMATE_COUPLING.items()},
            }
        return moved


class ShiftedFleetGenerator(FleetGenerator):
    """A FleetGenerator whose frames carry covariate shifts on top of everything else.

    Still a pure function of (seed, device, minute): a shift only adds an offset to the
    rows at or after its start, so chunked frames stay identical to one long frame.
    """

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

    def frame(self, start: datetime, end: datetime) -> pd.DataFrame:
        frame = super().frame(start, end)
        for shift in self.shifts:
            when = frame["timestamp"] >= pd.Timestamp(shift.start)
            if shift.end is not None:
                when &= frame["timestamp"] < pd.Timestamp(shift.end)
            offsets = shift.offsets(self.fleet)
            for sensor in ("temperature_ambient", *_CLIMATE_COUPLING):
                by_device = {d: moved[sensor] for d, moved in offsets.items()}
                offset = frame["device_id"].map(by_device).fillna(0.0).to_numpy(np.float64)
                spec = SENSOR_BY_NAME[sensor]
                # NaN (a sensor the device lacks, or a dropped value) stays NaN.
                frame[sensor] = np.clip(
                    frame[sensor].to_numpy() + offset * when.to_numpy(), spec.low, spec.high
                )
        return frame
