"""Per-device physical parameters, drawn from the equipment profiles' ranges.

`DeviceParams` is a NamedTuple of floats so a whole fleet turns into one (device, field)
array in a single call. The thermal design works back from what a refrigeration engineer
would size: a compressor whose capacity covers the average load at a drawn duty cycle,
a box whose heat gains (walls, door, fans, lights) add up to that load, and masses that
give box air tens of minutes and product hours of thermal inertia.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from fleetmon.simulator.profiles import DefrostKind, EquipmentProfile
from fleetmon.simulator.refrigerant import (
    ATMOSPHERE_PA,
    vapour_pressure_surface,
    vapour_pressure_water,
)

AIR_CP = 1005.0  # J/(kg K)
WATER_AIR_RATIO = 0.622  # kg water per kg air per unit of (vapour / total pressure)
LATENT_SUBLIMATION = 2.83e6  # J/kg
# Latent heat per kelvin-equivalent of air exchange: W per (W/K) per Pa of vapour pressure.
LATENT_PER_PA = WATER_AIR_RATIO * LATENT_SUBLIMATION / (AIR_CP * ATMOSPHERE_PA)
# Share of the walls' conductance that is air leaking through (and bringing moisture).
WALL_AIR_SHARE = 0.05


class DeviceParams(NamedTuple):
    # Controller
    set_c: float
    band_k: float
    min_off_s: float
    min_on_s: float
    # Compressor and coil
    capacity_w: float
    evap_rating_c: float
    cond_rating_c: float
    clearance: float
    mop_above_k: float  # expansion valve's maximum operating pressure, as K above rating
    ua_coil: float  # air to coil with the fans running, W/K
    ua_ref: float  # coil to evaporating refrigerant, W/K
    ua_natural: float  # air to coil with the fans stopped
    c_coil: float  # J/K, metal, refrigerant and sensor lag together
    frost_ref_kg: float  # frost that halves the coil's air-side conductance
    # Box and product
    c_air: float
    ua_prod: float
    c_prod: float
    g_wall: float
    g_door: float  # extra conductance while the door is wide open
    q_fan_w: float
    q_misc_w: float
    room_outdoor_share: float
    moisture_tau_s: float
    product_moisture_kg_s: float
    # Defrost
    defrost_kind: float
    defrost_interval_min: float
    defrost_phase_min: float
    defrost_max_s: float
    defrost_term_c: float
    drip_s: float
    heater_w: float
    heater_air_share: float
    fan_delay_c: float
    # Condensing side
    approach_k: float
    head_min_c: float
    cond_rest_k: float
    tau_cond_on_s: float
    tau_cond_off_s: float
    hp_cutout_kpa: float
    hp_reset_kpa: float
    # Compressor electrics and mechanics
    rated_amps: float
    idle_share: float
    discharge_rise_k: float
    crankcase_k: float
    tau_dis_on_s: float
    tau_dis_off_s: float
    vib_run: float
    vib_rest: float
    # Refrigerant side
    superheat_k: float
    subcooling_k: float
    tau_p_run_s: float
    tau_p_rest_s: float
    tau_txv_s: float
    starve_start: float  # charge share below which the receiver is empty and the coil starves
    starve_empty: float  # charge share at which the coil gets almost nothing
    # Doors
    door_busy_per_h: float
    door_quiet_per_h: float
    door_mean_s: float
    door_max_s: float
    open_hour: float
    close_hour: float
    # Ambient around the unit
    unit_floor_c: float
    unit_gain_k: float
    # Sensor calibration offsets (additive K or %RH, relative for the rest)
    cal_evap: float
    cal_cond: float
    cal_amb: float
    cal_dis: float
    cal_suct: float
    cal_liquid: float
    cal_hp: float
    cal_lp: float
    cal_current: float
    cal_humidity: float
    cal_vib: float


FIELDS = DeviceParams._fields


def coil_moisture_conductance(ua_coil: np.ndarray | float) -> np.ndarray | float:
    """Return the coil's vapour transfer (kg/(s Pa)) from its heat transfer (Lewis analogy)."""
    return ua_coil / AIR_CP * WATER_AIR_RATIO / ATMOSPHERE_PA


def expected_open_share(p: dict[str, np.ndarray]) -> np.ndarray:
    """Return the average share of the day a device's door is open in routine use."""
    busy_h = p["close_hour"] - p["open_hour"]
    per_h = (p["door_busy_per_h"] * busy_h + p["door_quiet_per_h"] * (24.0 - busy_h)) / 24.0
    return per_h * p["door_mean_s"] / 3600.0


def draw_params(
    rng: np.random.Generator,
    profiles: Sequence[EquipmentProfile],
    outdoor_mean_c: np.ndarray,
    store_air_c: np.ndarray,
    room_rh_pct: np.ndarray,
) -> list[DeviceParams]:
    """Draw every device's parameters from its profile and its site's climate."""
    n = len(profiles)
    if n == 0:
        return []
    walk_in = np.array([p.kind == "walk_in" for p in profiles])

    def between(lo_hi: Sequence[tuple[float, float]]) -> np.ndarray:
        lo, hi = np.array(lo_hi, dtype=np.float64).T
        return lo + (hi - lo) * rng.random(n)

    def pick(walk: tuple[float, float], case: tuple[float, float]) -> np.ndarray:
        return between([walk if w else case for w in walk_in])

    p: dict[str, np.ndarray] = {}
    p["set_c"] = between([pr.set_point_c for pr in profiles])
    p["band_k"] = between([pr.band_k for pr in profiles])
    p["min_off_s"] = 60.0 * np.round(between([(2.0, 5.0)] * n))
    p["min_on_s"] = 60.0 * np.round(between([(1.0, 2.0)] * n))
    capacity = 1000.0 * between([pr.capacity_kw for pr in profiles])
    td = between([pr.design_td_k for pr in profiles])
    duty = between([pr.design_duty for pr in profiles])
    p["capacity_w"] = capacity
    p["evap_rating_c"] = p["set_c"] - td

    # Doors (needed for the load split below).
    p["door_busy_per_h"] = between([pr.door_busy_per_h for pr in profiles])
    p["door_quiet_per_h"] = between([pr.door_quiet_per_h for pr in profiles])
    p["door_mean_s"] = between([pr.door_mean_s for pr in profiles])
    p["door_max_s"] = np.array([pr.door_max_s for pr in profiles])
    p["open_hour"] = pick((5.0, 7.0), (6.0, 8.0))
    p["close_hour"] = pick((17.0, 20.0), (21.0, 23.0))

    # Ambient around the condensing unit and around the box at average weather.
    p["unit_floor_c"] = pick((19.0, 22.0), (0.0, 0.0))
    p["unit_gain_k"] = pick((2.0, 4.0), (1.5, 3.5))
    p["room_outdoor_share"] = pick((0.1, 0.35), (0.0, 0.0))
    unit_design = np.where(
        walk_in,
        np.maximum(outdoor_mean_c + p["unit_gain_k"], p["unit_floor_c"]),
        store_air_c + p["unit_gain_k"],
    )
    room_design = store_air_c + p["room_outdoor_share"] * (outdoor_mean_c - store_air_c)

    # Condensing side.
    p["approach_k"] = between([(8.0, 15.0)] * n)
    p["head_min_c"] = pick((24.0, 30.0), (20.0, 24.0))
    p["cond_rating_c"] = np.maximum(unit_design + p["approach_k"], p["head_min_c"])
    p["cond_rest_k"] = between([(2.5, 4.5)] * n)
    p["tau_cond_on_s"] = between([(60.0, 120.0)] * n)
    p["tau_cond_off_s"] = between([(300.0, 900.0)] * n)
    # High-pressure switch: cut-out near 65 °C condensing, automatic reset ~600 kPa lower.
    p["hp_cutout_kpa"] = between([(2950.0, 3150.0)] * n)
    p["hp_reset_kpa"] = p["hp_cutout_kpa"] - between([(550.0, 700.0)] * n)
    p["clearance"] = between([(0.03, 0.06)] * n)
    p["mop_above_k"] = between([(10.0, 15.0)] * n)

    # Coil: the rating TD splits into air-to-coil and coil-to-refrigerant resistances.
    ua_total = capacity / td
    air_share = between([(0.75, 0.85)] * n)
    p["ua_coil"] = ua_total / air_share
    p["ua_ref"] = ua_total / (1.0 - air_share)
    p["ua_natural"] = p["ua_coil"] * between([(0.015, 0.03)] * n)
    p["c_coil"] = p["ua_coil"] * between([(45.0, 120.0)] * n)
    p["frost_ref_kg"] = capacity / 1000.0 * between([(2.0, 3.5)] * n)

    # Load split at average conditions: fans, lights, door, walls.
    load = duty * capacity
    p["q_fan_w"] = load * between([(0.12, 0.20)] * n)
    p["q_misc_w"] = load * pick((0.01, 0.03), (0.05, 0.10))
    lift = np.maximum(room_design - p["set_c"], 5.0)
    # Air through the door brings moisture too; the coil freezes it out, which costs
    # latent heat on top of the sensible.
    room_vapour = room_rh_pct / 100.0 * vapour_pressure_water(store_air_c)
    coil_vapour = vapour_pressure_surface(p["evap_rating_c"] + 2.0)
    latent = LATENT_PER_PA * np.maximum(room_vapour - coil_vapour, 0.0)
    p["g_door"] = between([pr.door_conductance_w_k for pr in profiles])
    door_load = p["g_door"] * expected_open_share(p) * (lift + latent)
    walls = np.maximum(load - p["q_fan_w"] - p["q_misc_w"] - door_load, 0.25 * load)
    # Restocking and deliveries come on top of the routine door load.
    walls = np.maximum(walls - 0.05 * load, 0.25 * load)
    p["g_wall"] = walls / lift
    # Box air (air, shelving, fixtures): a rest of a few minutes crosses the band. The
    # product's bulk follows it in hours; a walk-in holds tonnes, a case a few hundred kg.
    p["c_air"] = load * between([(180.0, 420.0)] * n) / p["band_k"]
    cp = np.array([pr.product_cp for pr in profiles])
    p["c_prod"] = cp * between([pr.product_kg for pr in profiles])
    p["ua_prod"] = p["c_prod"] / (3600.0 * between([pr.product_tau_h for pr in profiles]))
    p["moisture_tau_s"] = between([(300.0, 900.0)] * n)
    chilled = np.array([pr.product == "chilled" for pr in profiles])
    p["product_moisture_kg_s"] = np.where(
        chilled, between([(5e-6, 2e-5)] * n), between([(0.0, 2e-6)] * n)
    )

    # Defrost.
    kind = np.array([int(pr.defrost) for pr in profiles], dtype=np.float64)
    p["defrost_kind"] = kind
    interval = np.array(
        [
            60.0 * pr.defrost_interval_h[int(rng.integers(len(pr.defrost_interval_h)))]
            if pr.defrost_interval_h
            else 0.0
            for pr in profiles
        ]
    )
    p["defrost_interval_min"] = interval
    p["defrost_phase_min"] = np.floor(rng.random(n) * np.maximum(interval, 1.0))
    p["defrost_max_s"] = 60.0 * between([pr.defrost_max_min for pr in profiles])
    p["defrost_term_c"] = between([pr.defrost_termination_c for pr in profiles])
    p["drip_s"] = 60.0 * between([pr.drip_min for pr in profiles])
    # Heaters warm the coil, its drain pan and housing: a 20-40 min electric defrost;
    # hot gas brings more heat in from inside the tubes and ends sooner.
    heater_share = np.where(
        kind == DefrostKind.HOT_GAS,
        between([(0.7, 1.0)] * n),
        np.where(kind == DefrostKind.ELECTRIC, between([(0.35, 0.55)] * n), 0.0),
    )
    p["heater_w"] = heater_share * capacity
    p["heater_air_share"] = between([(0.02, 0.06)] * n)
    # After a heated defrost the fans wait until the coil is colder than the box.
    p["fan_delay_c"] = p["set_c"] - between([(0.0, 4.0)] * n)

    # Compressor.
    p["rated_amps"] = between([pr.rated_amps for pr in profiles])
    p["idle_share"] = between([(0.30, 0.40)] * n)
    p["discharge_rise_k"] = between([(25.0, 35.0)] * n)
    p["crankcase_k"] = between([(12.0, 18.0)] * n)
    p["tau_dis_on_s"] = between([(150.0, 300.0)] * n)
    p["tau_dis_off_s"] = between([(900.0, 1500.0)] * n)
    p["vib_run"] = between([(2.0, 4.0)] * n)
    p["vib_rest"] = between([(0.1, 0.3)] * n)

    # Refrigerant circuit.
    p["superheat_k"] = between([(4.0, 8.0)] * n)
    p["subcooling_k"] = between([(4.0, 8.0)] * n)
    p["tau_p_run_s"] = between([(15.0, 30.0)] * n)
    p["tau_p_rest_s"] = between([(150.0, 400.0)] * n)
    p["tau_txv_s"] = between([(60.0, 150.0)] * n)
    p["starve_start"] = between([(0.80, 0.90)] * n)
    p["starve_empty"] = between([(0.35, 0.50)] * n)

    # Sensor calibration.
    p["cal_evap"] = np.clip(rng.normal(0.0, 0.3, n), -0.8, 0.8)
    p["cal_cond"] = np.clip(rng.normal(0.0, 0.3, n), -0.8, 0.8)
    p["cal_amb"] = np.clip(rng.normal(0.0, 0.3, n), -0.8, 0.8)
    p["cal_dis"] = np.clip(rng.normal(0.0, 0.5, n), -1.5, 1.5)
    p["cal_suct"] = np.clip(rng.normal(0.0, 0.3, n), -0.8, 0.8)
    p["cal_liquid"] = np.clip(rng.normal(0.0, 0.2, n), -0.5, 0.5)
    p["cal_hp"] = np.clip(rng.normal(0.0, 0.01, n), -0.025, 0.025)
    p["cal_lp"] = np.clip(rng.normal(0.0, 0.01, n), -0.025, 0.025)
    p["cal_current"] = np.clip(rng.normal(0.0, 0.02, n), -0.05, 0.05)
    p["cal_humidity"] = np.clip(rng.normal(0.0, 2.0, n), -5.0, 5.0)
    p["cal_vib"] = np.clip(rng.normal(0.0, 0.05, n), -0.12, 0.12)

    table = np.column_stack([np.asarray(p[name], dtype=np.float64) for name in FIELDS])
    return [DeviceParams(*row) for row in table.tolist()]
