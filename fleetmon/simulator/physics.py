"""The lumped physical model of a refrigerated box, vectorised over devices.

Per device: product (hours), box air (tens of minutes) and coil (minutes) are first-order
heat stores; the coil also carries frost. A thermostat on box air with a dead band and an
anti-short-cycle timer runs the compressor. While it runs, the compressor pumps the low
side down to where evaporation in the coil matches its flow; while it rests, the low side
rises towards the saturation pressure of the coldest low-side point (the coil, warming
towards the box air). The condensing temperature sits an approach above the unit's
ambient and falls back when the compressor stops; discharge temperature climbs over the
first minutes of a run. Humidity comes from a vapour balance: infiltration and produce
bring moisture in, the cold coil freezes it out, a defrost gives it back.

Every state moves by exact exponential relaxation, x += (target − x)(1 − exp(−dt/τ)), with
targets from the other stores at the start of the step, so a step of 30 s is stable for
every time constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from fleetmon.simulator.params import (
    AIR_CP,
    FIELDS,
    LATENT_SUBLIMATION,
    WALL_AIR_SHARE,
    WATER_AIR_RATIO,
    coil_moisture_conductance,
)
from fleetmon.simulator.profiles import DefrostKind
from fleetmon.simulator.refrigerant import (
    ATMOSPHERE_PA,
    KELVIN,
    B,
    psat,
    tsat,
    vapour_pressure_surface,
)

STEP_S = 30.0
STEPS_PER_MINUTE = 2

# Defrost phases.
NORMAL, HEAT, DRIP, FAN_DELAY = 0, 1, 2, 3
FAN_DELAY_MAX_S = 180.0
LATENT_FUSION = 334e3  # J/kg
ICE_CP = 2100.0  # J/(kg K)
K_WATER_DRAIN = math.exp(-STEP_S / 600.0)
# Suction line and liquid line: a minute or two running, a few minutes resting.
K_SUCTION_RUN = math.exp(-STEP_S / 60.0)
K_SUCTION_REST = math.exp(-STEP_S / 180.0)
K_SUBCOOL_RUN = math.exp(-STEP_S / 120.0)
K_SUBCOOL_REST = math.exp(-STEP_S / 600.0)
# Share of the defrost heat that reaches hard ice when all of it could (melt_share = 1).
ICE_REACH = 0.25
# A heater's own high-limit switch stops it from heating a dry coil without end.
HEATER_LIMIT_C = 25.0
HEATER_LIMIT_BAND_K = 5.0
# The suction line and accumulator inside the box: with the coil heated, the coldest point
# of the low side sits a little above box air and caps its pressure.
LOW_SIDE_COLD_POINT_K = 3.0
MIN_LOW_SIDE_KPA = 15.0
CHARGE_FLOOR = 0.02
# A thermostatic expansion valve closes while the compressor rests and takes a minute or
# two to open again: each restart pulls the low side down before the coil is fed.
TXV_RESTING = 0.6
K_TXV_CLOSING = math.exp(-STEP_S / 60.0)
TXV_MARGIN = 1.4  # valves are sized with this much capacity over the compressor's
_POLYTROPIC = 1.0 / 1.1


class Params:
    """Every device's parameters as float arrays, plus derived rating-point constants."""

    def __init__(self, table: np.ndarray) -> None:
        for i, name in enumerate(FIELDS):
            setattr(self, name, np.ascontiguousarray(table[:, i]))
        kind = self.defrost_kind.astype(np.int64)
        self.electric = kind == DefrostKind.ELECTRIC
        self.hot_gas = kind == DefrostKind.HOT_GAS
        self.off_cycle = kind == DefrostKind.OFF_CYCLE
        self.scheduled = kind != DefrostKind.NONE
        # Defrosts that stop the fans and heat the coil (not off-cycle).
        self.heated = self.electric | self.hot_gas
        self.cut_in = self.set_c + 0.5 * self.band_k
        self.cut_out = self.set_c - 0.5 * self.band_k
        self.p_low_r = psat(self.evap_rating_c)
        self.p_mop = psat(self.evap_rating_c + self.mop_above_k)
        self.p_high_r = psat(self.cond_rating_c)
        self.pr_r = self.p_high_r / self.p_low_r
        self.eta_r = volumetric_efficiency(self.pr_r, self.clearance)
        self.log_pr_r = np.log(self.pr_r)
        # COP at the rating point: low-temperature units need more work per watt of cooling.
        lift = self.cond_rating_c - self.evap_rating_c
        self.power_r = self.capacity_w * np.clip(lift / 40.0, 0.35, 1.0) * 0.55
        self.reject_r = self.capacity_w + self.power_r
        # Decay factors of the fixed time constants over one step.
        self.k_txv_open = np.exp(-STEP_S / self.tau_txv_s)
        self.k_p_run = np.exp(-STEP_S / self.tau_p_run_s)
        self.k_p_rest = np.exp(-STEP_S / self.tau_p_rest_s)
        self.k_prod = np.exp(-STEP_S * self.ua_prod / self.c_prod)
        self.k_cond_on = np.exp(-STEP_S / self.tau_cond_on_s)
        self.k_cond_off = np.exp(-STEP_S / self.tau_cond_off_s)
        self.k_dis_on = np.exp(-STEP_S / self.tau_dis_on_s)
        self.k_dis_off = np.exp(-STEP_S / self.tau_dis_off_s)
        self.g_moist_coil = coil_moisture_conductance(self.ua_coil)
        self.moisture_capacity = self.g_moist_coil * self.moisture_tau_s
        self.n = len(self.set_c)


def volumetric_efficiency(ratio: np.ndarray, clearance: np.ndarray) -> np.ndarray:
    """Return a reciprocating compressor's volumetric efficiency at a pressure ratio."""
    return clamp(1.0 - clearance * (ratio**_POLYTROPIC - 1.0), 0.05, 1.0)


@dataclass
class State:
    """The physical state of every device at one instant."""

    t_air: np.ndarray
    t_prod: np.ndarray
    t_coil: np.ndarray
    t_suct: np.ndarray
    t_cond: np.ndarray
    t_dis: np.ndarray
    p_low: np.ndarray
    subcool: np.ndarray
    vapour: np.ndarray  # box air vapour pressure, Pa
    frost: np.ndarray  # kg on the coil, melted by every defrost
    ice: np.ndarray  # kg of hard ice (blocked drain, iced fan ring) a defrost barely reaches
    water: np.ndarray  # kg of melt water still on the coil
    t_evap_star: np.ndarray  # last solution of the running low-side balance (warm start)
    txv: np.ndarray  # expansion valve opening relative to steady running (0…1)
    load: np.ndarray  # compressor power relative to its rating (for vibration)
    current: np.ndarray  # A
    comp_on: np.ndarray
    comp_s: np.ndarray  # seconds in the compressor's current on/off state
    phase: np.ndarray
    phase_s: np.ndarray
    hp_trip: np.ndarray
    locked: np.ndarray  # tripped and needing a repair (overload trip)
    overload_s: np.ndarray
    powered: np.ndarray

    def copy(self) -> State:
        """Return a deep copy."""
        return State(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def nbytes(self) -> int:
        """Return the memory the arrays take."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))


@dataclass
class StepInputs:
    """Everything outside the box that drives one step, one value per device."""

    t_unit: np.ndarray
    t_room: np.ndarray
    room_vapour: np.ndarray
    door: np.ndarray  # share of the step the door stood open
    powered: np.ndarray
    defrost_due: np.ndarray
    defrost_hold: np.ndarray  # a defrost that does not terminate (stuck)
    comp_blocked: np.ndarray  # compressor cannot run (dead contactor, seized)
    repair: np.ndarray  # a repair clears trips at this step
    charge: np.ndarray
    fouling: np.ndarray
    feed: np.ndarray  # extra restriction of the refrigerant feed (TXV, line)
    ice_rate: np.ndarray  # kg/s of ice a blocked drain or iced fins add while running
    melt_share: np.ndarray
    gasket: np.ndarray  # infiltration conductance through a failed gasket, W/K
    overload: np.ndarray  # current multiplier of a binding compressor
    overload_trip_s: np.ndarray
    wear: np.ndarray  # bearing wear, 0 new … 1 seized
    product_heat: np.ndarray  # W into the product (warm restock)


def initial_state(p: Params, t_unit: np.ndarray, uniforms: Sequence[np.ndarray]) -> State:
    """Return a plausible mid-cycle state to start a spin-up from."""
    u0, u1, u2 = uniforms
    on = u0 < 0.55
    t_air = p.set_c + (u1 - 0.5) * p.band_k
    t_coil = np.where(on, p.evap_rating_c + 2.0, t_air - 1.0)
    t_cond = np.where(on, p.cond_rating_c, t_unit + p.cond_rest_k)
    n = p.n
    return State(
        t_air=t_air,
        t_prod=p.set_c.copy(),
        t_coil=t_coil,
        t_suct=t_coil + np.where(on, p.superheat_k, 0.5),
        t_cond=t_cond,
        t_dis=np.where(on, t_cond + p.discharge_rise_k, t_unit + p.crankcase_k),
        p_low=psat(np.where(on, p.evap_rating_c, t_coil)),
        subcool=np.where(on, p.subcooling_k, 0.5),
        vapour=0.7 * vapour_pressure_surface(t_air),
        frost=u2 * 0.15 * p.frost_ref_kg,
        ice=np.zeros(n),
        water=np.zeros(n),
        t_evap_star=p.evap_rating_c.copy(),
        txv=np.where(on, 1.0, TXV_RESTING),
        load=np.where(on, 1.0, 0.0),
        current=np.where(on, p.rated_amps, 0.0),
        comp_on=on,
        comp_s=np.full(n, 600.0),
        phase=np.zeros(n, dtype=np.int8),
        phase_s=np.zeros(n),
        hp_trip=np.zeros(n, dtype=bool),
        locked=np.zeros(n, dtype=bool),
        overload_s=np.zeros(n),
        powered=np.ones(n, dtype=bool),
    )


def relax(x: np.ndarray, target: np.ndarray, tau: np.ndarray, dt: float) -> np.ndarray:
    """Return x moved towards target by an exact first-order step of length dt."""
    return target + (x - target) * np.exp(-dt / tau)


def decay(x: np.ndarray, target: np.ndarray, factor: np.ndarray | float) -> np.ndarray:
    """Return x moved towards target by a step whose decay factor exp(−dt/τ) is given."""
    return target + (x - target) * factor


def clamp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Return x limited to [low, high] (np.clip costs more on small arrays)."""
    return np.minimum(np.maximum(x, low), high)


def compressor_flow(p: Params, p_low: np.ndarray, p_high: np.ndarray) -> np.ndarray:
    """Return the compressor's mass flow relative to its rating point.

    The expansion valve's maximum operating pressure caps the suction pressure the
    compressor sees, so a warm coil after a defrost cannot overload it.
    """
    suction = np.minimum(p_low, p.p_mop)
    ratio = p_high / suction
    return suction / p.p_low_r * volumetric_efficiency(ratio, p.clearance) / p.eta_r


def refrigerating_effect(p: Params, t_cond: np.ndarray) -> np.ndarray:
    """Return the cooling per kg of flow relative to rating (less at higher condensing)."""
    return clamp(1.0 - 0.008 * (t_cond - p.cond_rating_c), 0.3, 1.3)


def starved_feed(p: Params, charge: np.ndarray) -> np.ndarray:
    """Return the share of the coil the expansion valve can keep wet at a charge level."""
    span = p.starve_start - p.starve_empty
    return clamp((charge - p.starve_empty) / span, 0.03, 1.0)


def running_evaporation(
    p: Params,
    t_coil: np.ndarray,
    p_high: np.ndarray,
    ua_ref: np.ndarray,
    effect: np.ndarray,
    guess: np.ndarray,
) -> np.ndarray:
    """Solve for the evaporating temperature where coil evaporation equals compressor flow.

    ua_ref · (T_coil − T) = capacity · flow(psat(T)) · effect, by Newton steps from `guess`.
    """
    t = np.minimum(guess, t_coil - 0.1)
    for _ in range(2):
        pressure = psat(t)
        flow = compressor_flow(p, pressure, p_high)
        removed = p.capacity_w * flow * effect
        # d(flow)/dT: pressure rises by B/T² per kelvin; efficiency improves with it too.
        slope = removed * B / (t + KELVIN) ** 2 * 1.3
        residual = ua_ref * (t_coil - t) - removed
        t = t + residual / (ua_ref + slope)
        t = np.minimum(np.maximum(t, t_coil - 70.0), t_coil - 0.05)
    return t


def supply_limited_pressure(
    p: Params, p_high: np.ndarray, supply: np.ndarray, effect: np.ndarray, p_now: np.ndarray
) -> np.ndarray:
    """Return the suction pressure at which the compressor takes just `supply` (W).

    Flow is suction pressure times volumetric efficiency, which falls as the pressure
    ratio grows: two damped fixed-point steps from the current pressure (a geometric mean
    of old and new keeps the iteration from oscillating when the ratio is extreme).
    """
    need = supply / (p.capacity_w * effect) * p.p_low_r * p.eta_r
    pressure = np.maximum(p_now, MIN_LOW_SIDE_KPA)
    for _ in range(2):
        eta = volumetric_efficiency(p_high / np.minimum(pressure, p.p_mop), p.clearance)
        pressure = np.sqrt(pressure * need / eta)
    return pressure


def step(s: State, p: Params, u: StepInputs) -> None:
    """Advance every device by one step of STEP_S seconds, in place."""
    dt = STEP_S
    powered = u.powered
    s.comp_s += dt
    s.phase_s += dt

    # 1. Controller: power, defrost phases, trips, thermostat.
    phase = np.where(powered, s.phase, NORMAL).astype(np.int8)
    start = u.defrost_due & (phase == NORMAL) & powered & p.scheduled
    phase = np.where(start, HEAT, phase)
    phase_s = np.where(start, 0.0, s.phase_s)
    terminated = (s.t_coil >= p.defrost_term_c) | (phase_s >= p.defrost_max_s)
    ends_heat = (phase == HEAT) & terminated & ~u.defrost_hold
    phase = np.where(ends_heat, DRIP, phase)
    phase_s = np.where(ends_heat, 0.0, phase_s)
    ends_drip = (phase == DRIP) & (phase_s >= p.drip_s)
    phase = np.where(ends_drip, np.where(p.heated, FAN_DELAY, NORMAL), phase)
    phase_s = np.where(ends_drip, 0.0, phase_s)
    fans_back = (phase == FAN_DELAY) & ((s.t_coil <= p.fan_delay_c) | (phase_s >= FAN_DELAY_MAX_S))
    phase = np.where(fans_back, NORMAL, phase)

    p_high = psat(s.t_cond)
    s.hp_trip = (s.hp_trip | (p_high > p.hp_cutout_kpa)) & (p_high > p.hp_reset_kpa)
    s.locked &= ~u.repair
    s.overload_s = np.where(u.repair, 0.0, s.overload_s)
    blocked = ~powered | u.comp_blocked | s.locked | s.hp_trip

    staying_on = s.comp_on & ((s.t_air > p.cut_out) | (s.comp_s < p.min_on_s))
    starting = ~s.comp_on & (s.t_air >= p.cut_in) & (s.comp_s >= p.min_off_s)
    thermostat = staying_on | starting
    command = np.where(
        phase == NORMAL,
        thermostat,
        np.where(phase == HEAT, p.hot_gas, phase == FAN_DELAY),
    )
    command &= ~blocked
    s.comp_s = np.where(command != s.comp_on, 0.0, s.comp_s)
    on = command
    s.comp_on = on
    s.phase = phase
    s.phase_s = phase_s

    heating = phase == HEAT
    fans = powered & ~((phase != NORMAL) & p.heated)
    refrigerating = on & ~heating

    # 2. Low side: pumped down while refrigerating, equalising while resting. The
    # expansion valve passes at most `supply` of liquid: a starved coil (lost charge,
    # a restriction, a valve still opening after a restart) runs at a lower pressure.
    s.txv = decay(
        s.txv,
        np.where(refrigerating, 1.0, TXV_RESTING),
        np.where(refrigerating, p.k_txv_open, K_TXV_CLOSING),
    )
    feed = starved_feed(p, np.maximum(u.charge, CHARGE_FLOOR)) * u.feed * s.txv
    supply = TXV_MARGIN * p.capacity_w * feed
    effect = refrigerating_effect(p, s.t_cond)
    t_coil_side = running_evaporation(p, s.t_coil, p_high, p.ua_ref, effect, s.t_evap_star)
    p_fed = supply_limited_pressure(p, p_high, supply, effect, s.p_low)
    s.t_evap_star = np.where(refrigerating, t_coil_side, s.t_coil - 1.0)
    cold_point = np.where(
        heating & p.hot_gas, s.t_coil, np.minimum(s.t_coil, s.t_air + LOW_SIDE_COLD_POINT_K)
    )
    # A maximum-operating-pressure valve throttles the feed while the coil is warm.
    running_p = np.minimum(np.minimum(psat(t_coil_side), p_fed), p.p_mop)
    target_p = np.where(refrigerating, running_p, psat(cold_point))
    p_low = np.maximum(
        decay(s.p_low, target_p, np.where(on, p.k_p_run, p.k_p_rest)), MIN_LOW_SIDE_KPA
    )
    t_evap = tsat(p_low)
    flow = compressor_flow(p, p_low, p_high)
    # Evaporation can outrun neither the compressor nor the valve's supply.
    capacity = p.capacity_w * flow * effect
    lift_coil = np.maximum(s.t_coil - t_evap, 0.05)
    g_ref = np.minimum(np.minimum(p.ua_ref, capacity / lift_coil), supply / lift_coil)
    g_ref = np.where(refrigerating, g_ref, 0.0)
    q_evap = g_ref * lift_coil
    # The part of the coil the valve cannot keep wet superheats the vapour.
    wetted = np.minimum(supply / (p.ua_ref * lift_coil), 1.0)
    ratio = p_high / np.minimum(p_low, p.p_mop)
    load = np.where(on, flow * np.log(np.maximum(ratio, 1.05)) / p.log_pr_r, 0.0)

    # 3. Heat: heater or hot gas, limited by its high-limit switch.
    limit = clamp((HEATER_LIMIT_C - s.t_coil) / HEATER_LIMIT_BAND_K, 0.0, 1.0)
    heater = np.where(heating & powered & (p.electric | (p.hot_gas & on)), p.heater_w * limit, 0.0)

    # 4. Moisture: infiltration and produce bring it in, the coil freezes it out.
    ice = s.frost
    airflow = 1.0 / (1.0 + (ice + s.ice) / p.frost_ref_kg)
    ua_air = np.where(fans, p.ua_coil * airflow, p.ua_natural)
    air_exchange = WALL_AIR_SHARE * p.g_wall + p.g_door * u.door + u.gasket
    g_env = p.g_wall + p.g_door * u.door + u.gasket
    g_moist_env = air_exchange / AIR_CP * WATER_AIR_RATIO / ATMOSPHERE_PA
    g_moist_coil = p.g_moist_coil * ua_air / p.ua_coil
    surface = vapour_pressure_surface(s.t_coil)
    wet = (ice > 0.0) | (s.water > 0.0)
    g_coil = np.where((s.vapour > surface) | wet, g_moist_coil, 0.0)
    g_m = g_moist_env + g_coil
    vapour_target = (g_moist_env * u.room_vapour + g_coil * surface + p.product_moisture_kg_s) / g_m
    vapour = relax(s.vapour, vapour_target, p.moisture_capacity / g_m, dt)
    # Air cannot hold more than saturation over its own walls (ice below 0 °C).
    vapour = np.minimum(vapour, vapour_pressure_surface(s.t_air))
    deposit = g_coil * (0.5 * (s.vapour + vapour) - surface) * dt  # kg, < 0 evaporates
    freezing = s.t_coil < 0.0
    frost_in = np.where(freezing & (deposit > 0.0), deposit, 0.0)
    frost_out = np.where(freezing & (deposit < 0.0), np.minimum(-deposit, ice), 0.0)
    water_out = np.where(~freezing & (deposit < 0.0), np.minimum(-deposit, s.water), 0.0)
    s.vapour = vapour
    latent = (frost_in - frost_out) * LATENT_SUBLIMATION / dt

    # 5. Coil: air on one side, evaporating refrigerant on the other.
    g_coil_total = ua_air + g_ref
    # Hard ice takes its share of the defrost heat (or of the air's, off-cycle).
    ice_heat = np.where(
        heating,
        heater * (1.0 - p.heater_air_share),
        np.where(s.t_coil > 0.0, ua_air * np.maximum(s.t_air, 0.0), 0.0),
    )
    ice_heat = np.where(s.ice > 0.0, u.melt_share * ICE_REACH * ice_heat, 0.0)
    ice_melted = np.minimum(ice_heat * dt / LATENT_FUSION, s.ice)
    grown = np.where((s.t_coil < 0.0) & refrigerating, u.ice_rate * dt, 0.0)
    s.ice = s.ice - ice_melted + grown
    coil_heat = heater * (1.0 - p.heater_air_share) + latent - ice_melted * LATENT_FUSION / dt
    coil_target = (ua_air * s.t_air + g_ref * t_evap + coil_heat) / g_coil_total
    c_coil = p.c_coil + ICE_CP * (ice + s.ice)
    t_coil = relax(s.t_coil, coil_target, c_coil / g_coil_total, dt)
    # Frost pins the coil at 0 °C: heat above it melts ice instead (only part of it
    # when the ice sits where the heat does not reach).
    frost = ice + frost_in - frost_out
    melting = (t_coil > 0.0) & (frost > 0.0)
    available = np.where(melting, t_coil * c_coil, 0.0)
    melted = np.minimum(available / LATENT_FUSION, frost)
    t_coil = np.where(melting, t_coil - melted * LATENT_FUSION / c_coil, t_coil)
    s.frost = frost - melted
    s.water = np.maximum((s.water - water_out) * K_WATER_DRAIN + 0.2 * melted, 0.0)

    # 6. Box air, product.
    sources = p.q_fan_w * fans + p.q_misc_w * powered + heater * p.heater_air_share
    g_air = g_env + p.ua_prod + ua_air
    air_target = (g_env * u.t_room + p.ua_prod * s.t_prod + ua_air * s.t_coil + sources) / g_air
    t_air = relax(s.t_air, air_target, p.c_air / g_air, dt)
    prod_target = s.t_air + u.product_heat / p.ua_prod
    s.t_prod = decay(s.t_prod, prod_target, p.k_prod)
    s.t_air = t_air
    s.t_coil = t_coil

    # 7. Condensing side, discharge, suction line, subcooling.
    power = p.power_r * load
    reject = np.where(heating, 0.3 * (q_evap + power), q_evap + power)
    approach = p.approach_k * (1.0 + u.fouling) * reject / p.reject_r
    cond_target = np.where(
        on, np.maximum(u.t_unit + approach, p.head_min_c), u.t_unit + p.cond_rest_k
    )
    s.t_cond = decay(s.t_cond, cond_target, np.where(on, p.k_cond_on, p.k_cond_off))

    starve = np.maximum(s.t_air - t_evap - p.superheat_k, 0.0) * (1.0 - wetted)
    superheat = p.superheat_k + 0.7 * starve
    suct_target = np.where(
        refrigerating,
        t_evap + superheat,
        np.where(heating & p.hot_gas, t_coil, 0.6 * t_coil + 0.4 * t_air),
    )
    s.t_suct = decay(s.t_suct, suct_target, np.where(on, K_SUCTION_RUN, K_SUCTION_REST))

    lift = p.discharge_rise_k * np.log(np.maximum(ratio, 1.05)) / p.log_pr_r
    dis_target = np.where(
        on, s.t_cond + lift + 0.6 * (superheat - p.superheat_k), u.t_unit + p.crankcase_k
    )
    s.t_dis = decay(s.t_dis, dis_target, np.where(on, p.k_dis_on, p.k_dis_off))

    liquid_share = clamp((u.charge - p.starve_start + 0.12) / (1.12 - p.starve_start), 0.0, 1.0)
    flooded = 0.3 * np.maximum(p.head_min_c - (u.t_unit + approach), 0.0)
    sc_target = np.where(on & ~heating, p.subcooling_k * liquid_share + flooded, 0.5)
    s.subcool = decay(s.subcool, sc_target, np.where(on, K_SUBCOOL_RUN, K_SUBCOOL_REST))

    s.p_low = p_low
    s.load = load
    # Motor current: a no-load share plus a share proportional to shaft power; a worn
    # bearing adds friction, a binding compressor far more.
    friction = 1.0 + 0.05 * u.wear + 0.1 * u.wear**4
    motor = p.idle_share + (1.0 - p.idle_share) * load
    s.current = np.where(on, p.rated_amps * motor * friction * u.overload, 0.0)
    # A binding compressor trips its thermal overload after running hot long enough.
    hot = on & (u.overload > 1.0)
    s.overload_s = np.where(hot, s.overload_s + dt, s.overload_s)
    s.locked |= s.overload_s >= u.overload_trip_s
    s.powered = powered
