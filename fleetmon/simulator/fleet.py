"""Synthetic fleet layout: equipment profiles, climate zones, sites and devices.

Django-free and deterministic for a seed. A `DeviceSpec` carries everything the generator
needs to produce that device's readings (nudged baselines, defrost schedule, door habits,
noise key), so readings are a pure function of (generator seed, device, minute).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Literal

import numpy as np

from fleetmon.sensors import NUMERIC_SENSORS, SENSOR_NAMES

REGIONS: tuple[str, ...] = ("US-W", "US-C", "US-E", "US-S")
CLIMATE_ZONES: tuple[str, ...] = ("hot-humid", "hot-dry", "temperate", "cold")
SITE_TYPES: tuple[str, ...] = ("store", "warehouse", "distribution_center")
VIBRATION = "vibration_compressor"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# After a defrost ends the evaporator pulls down again; past this many minutes the
# defrost has no effect left on the readings.
DEFROST_RECOVERY_MIN = 45


@dataclass(frozen=True)
class ClimateZone:
    name: str
    ambient_offset_c: float
    humidity_offset_pct: float


CLIMATES: dict[str, ClimateZone] = {
    "hot-humid": ClimateZone("hot-humid", 5.0, 12.0),
    "hot-dry": ClimateZone("hot-dry", 6.0, -12.0),
    "temperate": ClimateZone("temperate", 0.0, 0.0),
    "cold": ClimateZone("cold", -5.0, -4.0),
}

# Standard-time UTC offsets; the daily ambient cycle peaks mid-afternoon local time.
REGION_UTC_OFFSET_H: dict[str, int] = {"US-W": -8, "US-C": -6, "US-E": -5, "US-S": -6}


@dataclass(frozen=True)
class City:
    region: str
    code: str
    name: str
    state: str
    climate_zone: str


CITIES: tuple[City, ...] = (
    City("US-W", "SEA", "Seattle", "WA", "temperate"),
    City("US-W", "PDX", "Portland", "OR", "temperate"),
    City("US-W", "SFO", "San Francisco", "CA", "temperate"),
    City("US-W", "LAX", "Los Angeles", "CA", "hot-dry"),
    City("US-W", "PHX", "Phoenix", "AZ", "hot-dry"),
    City("US-W", "LAS", "Las Vegas", "NV", "hot-dry"),
    City("US-C", "CHI", "Chicago", "IL", "cold"),
    City("US-C", "MSP", "Minneapolis", "MN", "cold"),
    City("US-C", "OMA", "Omaha", "NE", "cold"),
    City("US-C", "STL", "St. Louis", "MO", "temperate"),
    City("US-C", "KCM", "Kansas City", "MO", "temperate"),
    City("US-E", "NYC", "New York", "NY", "temperate"),
    City("US-E", "PHL", "Philadelphia", "PA", "temperate"),
    City("US-E", "DCA", "Washington", "DC", "temperate"),
    City("US-E", "BOS", "Boston", "MA", "cold"),
    City("US-E", "PIT", "Pittsburgh", "PA", "cold"),
    City("US-S", "ATL", "Atlanta", "GA", "hot-humid"),
    City("US-S", "MIA", "Miami", "FL", "hot-humid"),
    City("US-S", "HOU", "Houston", "TX", "hot-humid"),
    City("US-S", "NOL", "New Orleans", "LA", "hot-humid"),
    City("US-S", "DAL", "Dallas", "TX", "hot-dry"),
    City("US-S", "SAT", "San Antonio", "TX", "hot-dry"),
)

REGION_ZONES: dict[str, tuple[str, ...]] = {
    region: tuple(sorted({c.climate_zone for c in CITIES if c.region == region}))
    for region in REGIONS
}


@dataclass(frozen=True)
class EquipmentProfile:
    """Typical behaviour of one equipment model; `baseline` maps sensor -> (mean, std)."""

    model: str
    description: str
    kind: Literal["walk_in", "display_case"]
    horsepower: float
    baseline: dict[str, tuple[float, float]] = field(hash=False)
    defrost_interval_h: tuple[float, float] = (6.0, 8.0)
    defrost_duration_min: tuple[int, int] = (20, 40)
    defrost_termination_c: tuple[float, float] = (5.0, 10.0)
    door_openings_per_h: float = 1.2
    door_duration_min: tuple[int, int] = (2, 3)
    # How much of the climate zone's ambient offset reaches the unit (indoor HVAC damps it).
    climate_exposure: float = 0.8

    def mean(self, sensor: str) -> float:
        """Return the profile's baseline mean of a numeric sensor."""
        return self.baseline[sensor][0]

    def std(self, sensor: str) -> float:
        """Return the profile's baseline standard deviation of a numeric sensor."""
        return self.baseline[sensor][1]


# Spec §1.1 gives one generic baseline; §10.3 says a walk-in freezer runs near -20 °C and a
# display case near -5 °C, a 5 HP compressor draws ~15 A and a 2 HP one ~6 A. Low-temp
# units get lower suction and low-side pressure (lower saturation temperature); suction sits
# one superheat above the evaporator; pressure ratios stay in the 3–8 of §10.3. Vibration
# varies less than the generic 0.8 mm/s so that a healthy compressor stays well below the
# streaming rule's 3 × its 24 h mean.
_MODELS = ("WF-5HP", "WC-3HP", "DC-2HP", "DF-3HP")
# (mean, std) per sensor and model:  WF-5HP     WC-3HP     DC-2HP     DF-3HP
_BASELINES: dict[str, tuple[tuple[float, float], ...]] = {
    "temperature_evaporator": ((-20.0, 2.5), (-6.5, 2.5), (-5.0, 2.0), (-28.0, 2.5)),
    "temperature_condenser": ((42.0, 4.0), (40.0, 4.0), (40.0, 4.0), (41.0, 4.0)),
    "temperature_ambient": ((22.0, 4.0), (22.0, 4.0), (21.0, 3.0), (21.0, 3.0)),
    "temperature_discharge": ((78.0, 8.0), (68.0, 7.0), (68.0, 6.0), (78.0, 8.0)),
    "temperature_suction": ((-12.0, 3.0), (0.0, 3.0), (2.0, 3.0), (-20.0, 3.0)),
    "pressure_high_side": ((1600.0, 150.0), (1450.0, 140.0), (1400.0, 130.0), (1400.0, 140.0)),
    "pressure_low_side": ((220.0, 25.0), (400.0, 35.0), (420.0, 35.0), (180.0, 20.0)),
    "current_compressor": ((15.0, 2.0), (10.0, 1.6), (6.0, 1.0), (9.0, 1.4)),
    "vibration_compressor": ((3.2, 0.6), (2.8, 0.5), (2.4, 0.45), (2.6, 0.5)),
    "humidity": ((50.0, 10.0), (58.0, 10.0), (48.0, 10.0), (42.0, 10.0)),
    "superheat": ((8.0, 2.0), (7.0, 2.0), (7.0, 2.0), (8.0, 2.0)),
    "subcooling": ((5.0, 1.5), (6.0, 1.5), (5.0, 1.5), (5.0, 1.5)),
}


def _baseline(model: str) -> dict[str, tuple[float, float]]:
    """Return one model's column of the baseline table, checked against the catalogue."""
    if set(_BASELINES) != set(NUMERIC_SENSORS):
        raise ValueError(f"the baseline table must cover exactly {NUMERIC_SENSORS}")
    return {sensor: _BASELINES[sensor][_MODELS.index(model)] for sensor in NUMERIC_SENSORS}


PROFILES: dict[str, EquipmentProfile] = {
    "WF-5HP": EquipmentProfile(
        model="WF-5HP",
        description="Walk-in freezer, 5 HP condensing unit",
        kind="walk_in",
        horsepower=5.0,
        baseline=_baseline("WF-5HP"),
        door_openings_per_h=1.2,
        door_duration_min=(2, 3),
    ),
    "WC-3HP": EquipmentProfile(
        model="WC-3HP",
        description="Walk-in cooler, 3 HP condensing unit",
        kind="walk_in",
        horsepower=3.0,
        baseline=_baseline("WC-3HP"),
        door_openings_per_h=1.2,
        door_duration_min=(2, 3),
    ),
    "DC-2HP": EquipmentProfile(
        model="DC-2HP",
        description="Medium-temperature display case, 2 HP",
        kind="display_case",
        horsepower=2.0,
        baseline=_baseline("DC-2HP"),
        door_openings_per_h=2.0,
        door_duration_min=(1, 2),
        climate_exposure=0.4,
    ),
    "DF-3HP": EquipmentProfile(
        model="DF-3HP",
        description="Low-temperature display freezer, 3 HP",
        kind="display_case",
        horsepower=3.0,
        baseline=_baseline("DF-3HP"),
        door_openings_per_h=2.0,
        door_duration_min=(1, 2),
        climate_exposure=0.4,
    ),
}

# Which equipment a site of each type runs, as (model, weight).
_EQUIPMENT_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "store": (("DC-2HP", 0.45), ("DF-3HP", 0.25), ("WC-3HP", 0.18), ("WF-5HP", 0.12)),
    "warehouse": (("WC-3HP", 0.5), ("WF-5HP", 0.4), ("DC-2HP", 0.05), ("DF-3HP", 0.05)),
    "distribution_center": (("WF-5HP", 0.5), ("WC-3HP", 0.4), ("DF-3HP", 0.1)),
}
_SITE_TYPE_WEIGHTS = (0.7, 0.15, 0.15)
_CHAINS = ("FreshMart", "GreenGrocer", "ColdChain Logistics", "Harvest Foods", "QuickStop")
_STREETS = ("Main", "Oak", "Maple", "Commerce", "Market", "Industrial", "Harbor", "Lake")
_INSTALL_FIRST = date(2012, 1, 1)
_INSTALL_LAST = date(2025, 12, 31)
_NO_VIBRATION_SHARE = 0.10
_NUDGE_STD_SHARE = 0.10  # spec §6: each device's baseline is nudged by 10 % of its std
# How condenser-side sensors follow a warmer or cooler ambient (per °C of ambient offset).
_CLIMATE_COUPLING = {
    "temperature_condenser": 0.6,
    "temperature_discharge": 0.5,
    "pressure_high_side": 15.0,
}


@dataclass(frozen=True)
class SiteSpec:
    site_id: str
    site_name: str
    address: str
    region: str
    climate_zone: str
    site_type: str


@dataclass(frozen=True)
class DeviceSpec:
    """One device; the fields after `sensors` are simulator-private parameters."""

    device_id: str
    site_id: str
    region: str
    climate_zone: str
    equipment_model: str
    install_date: date
    firmware_version: str
    sensors: tuple[str, ...]
    baseline_mean: tuple[float, ...]  # per NUMERIC_SENSORS, nudged and climate-adjusted
    baseline_std: tuple[float, ...]  # per NUMERIC_SENSORS
    defrost_interval_min: int
    defrost_phase_min: int  # defrost cycles start at epoch minutes ≡ phase (mod interval)
    defrost_duration_min: int  # before a per-cycle jitter of at most ±3 min
    defrost_termination_c: float
    door_openings_per_h: float
    utc_offset_h: int
    noise_key: int  # 63-bit key for counter-based randomness

    @property
    def cohort(self) -> tuple[str, str]:
        """Return the device's cohort as (equipment_model, climate_zone)."""
        return (self.equipment_model, self.climate_zone)

    @property
    def profile(self) -> EquipmentProfile:
        """Return the equipment profile of this device."""
        return PROFILES[self.equipment_model]

    def mean(self, sensor: str) -> float:
        """Return the device's baseline mean of a numeric sensor."""
        return self.baseline_mean[NUMERIC_SENSORS.index(sensor)]

    def std(self, sensor: str) -> float:
        """Return the device's baseline standard deviation of a numeric sensor."""
        return self.baseline_std[NUMERIC_SENSORS.index(sensor)]

    def has(self, sensor: str) -> bool:
        """Return whether the device carries this sensor."""
        return sensor in self.sensors


@dataclass(frozen=True)
class FleetLayout:
    sites: tuple[SiteSpec, ...]
    devices: tuple[DeviceSpec, ...]

    def device(self, device_id: str) -> DeviceSpec:
        """Return the device with this id."""
        return self._by_id[device_id]

    @cached_property
    def _by_id(self) -> dict[str, DeviceSpec]:
        return {device.device_id: device for device in self.devices}

    def cohorts(self) -> dict[tuple[str, str], list[str]]:
        """Group device ids by (equipment_model, climate_zone)."""
        groups: dict[tuple[str, str], list[str]] = {}
        for device in self.devices:
            groups.setdefault(device.cohort, []).append(device.device_id)
        return groups


def epoch_minute(moment: datetime) -> int:
    """Return the whole minutes since the Unix epoch of a tz-aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return (moment - EPOCH) // timedelta(minutes=1)


def minute_datetime(minute: int) -> datetime:
    """Return the UTC datetime of an epoch minute."""
    return EPOCH + timedelta(minutes=int(minute))


def defrost_cycle_start(device: DeviceSpec, minute: int) -> int:
    """Return the epoch minute at which the device's scheduled cycle containing `minute` began."""
    offset = (minute - device.defrost_phase_min) % device.defrost_interval_min
    return minute - offset


def make_fleet(n_devices: int, *, seed: int, devices_per_site: int = 20) -> FleetLayout:
    """Lay out a deterministic fleet of sites and devices for a seed."""
    if n_devices < 0 or devices_per_site < 1:
        raise ValueError("n_devices must be >= 0 and devices_per_site >= 1")
    rng = np.random.default_rng(seed)
    sites = _make_sites(rng, _site_count(n_devices, devices_per_site))
    sizes = [len(a) for a in np.array_split(np.arange(n_devices), len(sites))] if sites else []
    numbers = _unique_numbers(rng, n_devices, 10**8)
    install = _install_dates(rng, n_devices)
    no_vibration = _oldest(install, round(_NO_VIBRATION_SHARE * n_devices))
    devices: list[DeviceSpec] = []
    for site, size in zip(sites, sizes, strict=True):
        for _ in range(size):
            i = len(devices)
            devices.append(_make_device(rng, site, int(numbers[i]), install[i], i in no_vibration))
    return FleetLayout(sites=tuple(sites), devices=tuple(devices))


def _site_count(n_devices: int, devices_per_site: int) -> int:
    """Return how many sites to spread the devices over (at least 4 once n >= 40)."""
    if n_devices == 0:
        return 0
    needed = math.ceil(n_devices / devices_per_site)
    # Small fleets still need one site per region so every region is represented.
    return max(needed, min(len(REGIONS), math.ceil(n_devices / 10)))


def _make_sites(rng: np.random.Generator, n_sites: int) -> list[SiteSpec]:
    """Create sites: the first four cover every region, the rest are drawn at random."""
    regions = [REGIONS[i] for i in rng.permutation(len(REGIONS))]
    regions += [REGIONS[i] for i in rng.integers(0, len(REGIONS), max(0, n_sites - 4))]
    counters: dict[str, int] = {}
    sites = []
    for region in regions[:n_sites]:
        cities = [c for c in CITIES if c.region == region]
        city = cities[int(rng.integers(0, len(cities)))]
        if city.code not in counters:
            counters[city.code] = int(rng.integers(0, 40))  # site numbers need not start at 1
        counters[city.code] += 1
        if counters[city.code] > 9999:
            raise ValueError(f"too many sites in {city.code} for a 4-digit site number")
        site_type = SITE_TYPES[int(rng.choice(len(SITE_TYPES), p=_SITE_TYPE_WEIGHTS))]
        sites.append(_make_site(rng, city, counters[city.code], site_type))
    return sites


def _make_site(rng: np.random.Generator, city: City, number: int, site_type: str) -> SiteSpec:
    """Build one site in a city."""
    chain = _CHAINS[int(rng.integers(0, len(_CHAINS)))]
    label = {"store": "", "warehouse": " Warehouse", "distribution_center": " DC"}[site_type]
    street = _STREETS[int(rng.integers(0, len(_STREETS)))]
    return SiteSpec(
        site_id=f"SITE-US-{city.code}-{number:04d}",
        site_name=f"{chain}{label} #{number} {city.name}",
        address=f"{int(rng.integers(100, 9999))} {street} St, {city.name}, {city.state}",
        region=city.region,
        climate_zone=city.climate_zone,
        site_type=site_type,
    )


def _unique_numbers(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """Draw n distinct integers in [0, high) in a deterministic order."""
    numbers = np.empty(0, dtype=np.int64)
    while len(numbers) < n:
        drawn = np.concatenate([numbers, rng.integers(0, high, 2 * n + 8)])
        _, first = np.unique(drawn, return_index=True)
        numbers = drawn[np.sort(first)]
    return numbers[:n]


def _install_dates(rng: np.random.Generator, n: int) -> list[date]:
    """Draw install dates uniformly over the install period."""
    span = (_INSTALL_LAST - _INSTALL_FIRST).days
    return [_INSTALL_FIRST + timedelta(days=int(d)) for d in rng.integers(0, span + 1, n)]


def _oldest(install: Sequence[date], count: int) -> set[int]:
    """Return the indices of the `count` earliest install dates."""
    order = sorted(range(len(install)), key=lambda i: (install[i], i))
    return set(order[:count])


def _firmware(rng: np.random.Generator, installed: date) -> str:
    """Return a firmware version; older units run older major versions."""
    major = 2 if installed.year < 2016 else 3 if installed.year < 2020 else 4
    return f"{major}.{int(rng.integers(0, 10))}.{int(rng.integers(0, 20))}"


def _make_device(
    rng: np.random.Generator, site: SiteSpec, number: int, installed: date, no_vibration: bool
) -> DeviceSpec:
    """Build one device at a site with its private simulation parameters."""
    mix = _EQUIPMENT_MIX[site.site_type]
    weights = np.array([w for _, w in mix])
    profile = PROFILES[mix[int(rng.choice(len(mix), p=weights / weights.sum()))][0]]
    # Controllers set the interval in half-hour steps.
    lo_h, hi_h = profile.defrost_interval_h
    interval = int(rng.choice(np.arange(round(lo_h * 60), round(hi_h * 60) + 1, 30)))
    lo, hi = profile.defrost_duration_min
    sensors = tuple(s for s in SENSOR_NAMES if not (no_vibration and s == VIBRATION))
    return DeviceSpec(
        device_id=f"REF-{site.region}-{number:08d}",
        site_id=site.site_id,
        region=site.region,
        climate_zone=site.climate_zone,
        equipment_model=profile.model,
        install_date=installed,
        firmware_version=_firmware(rng, installed),
        sensors=sensors,
        baseline_mean=_device_means(rng, profile, CLIMATES[site.climate_zone]),
        baseline_std=tuple(profile.std(s) for s in NUMERIC_SENSORS),
        defrost_interval_min=interval,
        defrost_phase_min=int(rng.integers(0, interval)),
        # Leave room for the ±3 min per-cycle jitter inside the profile's range.
        defrost_duration_min=int(rng.integers(lo + 3, hi - 3 + 1)),
        defrost_termination_c=round(float(rng.uniform(*profile.defrost_termination_c)), 1),
        door_openings_per_h=profile.door_openings_per_h * float(rng.uniform(0.85, 1.15)),
        utc_offset_h=REGION_UTC_OFFSET_H[site.region],
        noise_key=int(rng.integers(0, 2**63 - 1)),
    )


def _device_means(
    rng: np.random.Generator, profile: EquipmentProfile, climate: ClimateZone
) -> tuple[float, ...]:
    """Nudge the profile means by 10 % of their std and shift them for the climate zone."""
    ambient_shift = climate.ambient_offset_c * profile.climate_exposure
    means = []
    for sensor in NUMERIC_SENSORS:
        mean = profile.mean(sensor) + _NUDGE_STD_SHARE * profile.std(sensor) * rng.normal()
        if sensor == "temperature_ambient":
            mean += ambient_shift
        elif sensor == "humidity":
            mean += climate.humidity_offset_pct * profile.climate_exposure
        mean += _CLIMATE_COUPLING.get(sensor, 0.0) * ambient_shift
        means.append(round(float(mean), 3))
    return tuple(means)
