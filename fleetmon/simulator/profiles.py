"""Equipment profiles: the typical ranges each device's physical parameters are drawn from.

Figures are ranges, not constants (physics.md): every device draws its own values, so no
two devices are alike. Walk-ins have outdoor-like condensing units and long, rare door
openings; display cases sit in the store with short, frequent customer openings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

Range = tuple[float, float]


class DefrostKind(IntEnum):
    NONE = 0
    ELECTRIC = 1  # heaters on, compressor and fans off
    OFF_CYCLE = 2  # compressor off, fans on, no heater: the box air melts the frost
    HOT_GAS = 3  # compressor on, discharge gas routed through the coil


@dataclass(frozen=True)
class EquipmentProfile:
    """Typical behaviour of one equipment model, as ranges to draw each device from."""

    model: str
    description: str
    kind: Literal["walk_in", "display_case"]
    product: Literal["chilled", "frozen"]
    horsepower: float
    set_point_c: Range
    band_k: Range
    capacity_kw: Range  # compressor refrigerating capacity at its rating point
    design_td_k: Range  # box air minus evaporating temperature at the rating point
    design_duty: Range  # run share at average conditions
    rated_amps: Range
    defrost: DefrostKind
    defrost_interval_h: tuple[float, ...] = ()
    defrost_max_min: Range = (30.0, 40.0)
    defrost_termination_c: Range = (8.0, 12.0)
    drip_min: Range = (2.0, 5.0)
    # Air exchange through a wide-open door, W/K: strip curtains on walk-ins, small glass
    # doors on display cases.
    door_conductance_w_k: Range = (200.0, 400.0)
    # Openings per hour in busy hours and at night, and their mean length in seconds.
    door_busy_per_h: Range = (2.0, 5.0)
    door_quiet_per_h: Range = (0.1, 0.3)
    door_mean_s: Range = (30.0, 70.0)
    door_max_s: float = 240.0
    # Share of an outdoor temperature anomaly that reaches the condensing unit.
    climate_exposure: float = 1.0
    # Product held, and how fast its bulk follows the box air.
    product_kg: Range = (2500.0, 7000.0)
    product_tau_h: Range = (1.0, 2.0)

    @property
    def product_cp(self) -> float:
        """Return the product's specific heat, J/(kg K): frozen food holds less."""
        return 3500.0 if self.product == "chilled" else 2000.0

    @property
    def safe_limit_c(self) -> float:
        """Return the box-air temperature above which the product is at risk."""
        return 5.0 if self.product == "chilled" else -18.0


PROFILES: dict[str, EquipmentProfile] = {
    "WF-5HP": EquipmentProfile(
        model="WF-5HP",
        description="Walk-in freezer, 5 HP condensing unit, electric defrost",
        kind="walk_in",
        product="frozen",
        horsepower=5.0,
        set_point_c=(-22.5, -20.8),
        band_k=(1.0, 1.6),
        capacity_kw=(5.0, 6.5),
        design_td_k=(9.0, 12.0),
        design_duty=(0.45, 0.65),
        rated_amps=(13.0, 17.0),
        defrost=DefrostKind.ELECTRIC,
        defrost_interval_h=(6.0, 6.5, 7.0, 7.5, 8.0),
        defrost_max_min=(30.0, 40.0),
        defrost_termination_c=(8.0, 12.0),
        door_conductance_w_k=(150.0, 320.0),
        product_kg=(2500.0, 7000.0),
    ),
    "WC-3HP": EquipmentProfile(
        model="WC-3HP",
        description="Walk-in cooler, 3 HP condensing unit, off-cycle defrost",
        kind="walk_in",
        product="chilled",
        horsepower=3.0,
        set_point_c=(1.8, 2.8),
        band_k=(1.0, 1.5),
        capacity_kw=(6.0, 8.0),
        design_td_k=(8.0, 12.0),
        design_duty=(0.45, 0.65),
        rated_amps=(9.0, 12.0),
        defrost=DefrostKind.OFF_CYCLE,
        defrost_interval_h=(5.5, 6.0, 6.0, 6.5),
        defrost_max_min=(25.0, 40.0),
        # The coil can only warm towards the box air: most end on time.
        defrost_termination_c=(3.5, 5.0),
        drip_min=(0.0, 1.0),
    ),
    "DC-2HP": EquipmentProfile(
        model="DC-2HP",
        description="Medium-temperature display case, 2 HP, self-contained, no defrost",
        kind="display_case",
        product="chilled",
        horsepower=2.0,
        set_point_c=(1.5, 3.0),
        band_k=(1.0, 2.0),
        capacity_kw=(2.5, 3.5),
        design_td_k=(9.0, 13.0),
        design_duty=(0.45, 0.65),
        rated_amps=(5.5, 7.5),
        defrost=DefrostKind.NONE,
        door_conductance_w_k=(70.0, 160.0),
        product_kg=(300.0, 800.0),
        product_tau_h=(0.5, 1.0),
        door_busy_per_h=(15.0, 35.0),
        door_quiet_per_h=(0.5, 2.0),
        door_mean_s=(8.0, 15.0),
        door_max_s=60.0,
        climate_exposure=0.1,
    ),
    "DF-3HP": EquipmentProfile(
        model="DF-3HP",
        description="Low-temperature display freezer, 3 HP, self-contained, hot-gas defrost",
        kind="display_case",
        product="frozen",
        horsepower=3.0,
        set_point_c=(-23.0, -21.0),
        band_k=(1.0, 2.0),
        capacity_kw=(2.8, 3.8),
        design_td_k=(9.0, 13.0),
        design_duty=(0.45, 0.65),
        rated_amps=(8.0, 11.0),
        defrost=DefrostKind.HOT_GAS,
        defrost_interval_h=(6.0, 6.5, 7.0, 7.5, 8.0),
        defrost_max_min=(12.0, 20.0),
        defrost_termination_c=(5.0, 7.0),
        drip_min=(2.0, 4.0),
        door_conductance_w_k=(70.0, 160.0),
        product_kg=(300.0, 800.0),
        product_tau_h=(0.4, 0.8),
        door_busy_per_h=(10.0, 25.0),
        door_quiet_per_h=(0.3, 1.5),
        door_mean_s=(8.0, 15.0),
        door_max_s=60.0,
        climate_exposure=0.1,
    ),
}
