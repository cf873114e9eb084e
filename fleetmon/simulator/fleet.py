"""Synthetic fleet layout: climate zones, sites and devices with their physical parameters.

Django-free and deterministic for a seed. A `SiteSpec` carries its weather (climate,
daily swing, store air), a `DeviceSpec` its equipment model, sensors and drawn physical
parameters (simulator.params), so a simulation is a function of (seed, layout, origin).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

import numpy as np

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.params import DeviceParams, draw_params
from fleetmon.simulator.profiles import PROFILES, DefrostKind, EquipmentProfile

__all__ = [
    "CLIMATES",
    "PROFILES",
    "REGIONS",
    "DeviceSpec",
    "EquipmentProfile",
    "FleetLayout",
    "SiteSpec",
    "epoch_minute",
    "make_fleet",
    "minute_datetime",
]

REGIONS: tuple[str, ...] = ("US-W", "US-C", "US-E", "US-S")
CLIMATE_ZONES: tuple[str, ...] = ("hot-humid", "hot-dry", "temperate", "cold")
SITE_TYPES: tuple[str, ...] = ("store", "warehouse", "distribution_center")
VIBRATION = "vibration_compressor"
HUMIDITY = "humidity"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ClimateZone:
    name: str
    outdoor_mean_c: tuple[float, float]
    daily_amplitude_k: tuple[float, float]  # half the day-night swing
    room_rh_pct: tuple[float, float]


CLIMATES: dict[str, ClimateZone] = {
    "hot-humid": ClimateZone("hot-humid", (24.0, 27.0), (3.0, 5.0), (50.0, 65.0)),
    "hot-dry": ClimateZone("hot-dry", (22.0, 26.0), (5.0, 7.0), (25.0, 40.0)),
    "temperate": ClimateZone("temperate", (15.0, 20.0), (4.0, 6.0), (40.0, 55.0)),
    "cold": ClimateZone("cold", (8.0, 14.0), (4.0, 6.0), (35.0, 50.0)),
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
# Older units were sold without some sensors and never got them: the oldest lack both
# vibration and humidity, the next lack one of them.
_NO_BOTH_SHARE = 0.04
_NO_VIBRATION_SHARE = 0.06
_NO_HUMIDITY_SHARE = 0.06
_PARAMS_STREAM = 0x5EED_F1EE7


@dataclass(frozen=True)
class SiteSpec:
    """One site; the fields after `site_type` describe its weather (simulator-private)."""

    site_id: str
    site_name: str
    address: str
    region: str
    climate_zone: str
    site_type: str
    utc_offset_h: int = 0
    outdoor_mean_c: float = 20.0
    daily_amplitude_k: float = 5.0
    store_air_c: float = 21.0
    room_rh_pct: float = 45.0
    weather_key: int = 0


@dataclass(frozen=True)
class DeviceSpec:
    """One device; `physics`, `utc_offset_h` and `noise_key` are simulator-private."""

    device_id: str
    site_id: str
    region: str
    climate_zone: str
    equipment_model: str
    install_date: date
    firmware_version: str
    sensors: tuple[str, ...]
    physics: DeviceParams
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

    @property
    def safe_limit_c(self) -> float:
        """Return the box-air temperature above which its product is at risk."""
        return self.profile.safe_limit_c

    @property
    def defrost_kind(self) -> DefrostKind:
        """Return how this device defrosts."""
        return DefrostKind(int(self.physics.defrost_kind))

    @property
    def defrost_interval_min(self) -> int:
        """Return the minutes between scheduled defrosts (0 when it never defrosts)."""
        return int(self.physics.defrost_interval_min)

    def defrost_starts(self, start_min: int, end_min: int) -> list[int]:
        """Return the epoch minutes in [start_min, end_min) at which a defrost is scheduled."""
        interval = self.defrost_interval_min
        if interval == 0:
            return []
        phase = int(self.physics.defrost_phase_min)
        first = start_min + (phase - start_min) % interval
        return list(range(first, end_min, interval))

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

    def site(self, site_id: str) -> SiteSpec:
        """Return the site with this id."""
        return self._sites_by_id[site_id]

    @cached_property
    def _by_id(self) -> dict[str, DeviceSpec]:
        return {device.device_id: device for device in self.devices}

    @cached_property
    def _sites_by_id(self) -> dict[str, SiteSpec]:
        return {site.site_id: site for site in self.sites}

    def cohorts(self) -> dict[tuple[str, str], list[str]]:
        """Group device ids by (equipment_model, climate_zone)."""
        groups: dict[tuple[str, str], list[str]] = {}
        for device in self.devices:
            groups.setdefault(device.cohort, []).append(device.device_id)
        return groups

    def devices_at(self, site_id: str) -> list[DeviceSpec]:
        """Return the devices of one site."""
        return [d for d in self.devices if d.site_id == site_id]


def epoch_minute(moment: datetime) -> int:
    """Return the whole minutes since the Unix epoch of a tz-aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return (moment - EPOCH) // timedelta(minutes=1)


def minute_datetime(minute: int) -> datetime:
    """Return the UTC datetime of an epoch minute."""
    return EPOCH + timedelta(minutes=int(minute))


def make_fleet(n_devices: int, *, seed: int, devices_per_site: int = 20) -> FleetLayout:
    """Lay out a deterministic fleet of sites and devices for a seed."""
    if n_devices < 0 or devices_per_site < 1:
        raise ValueError("n_devices must be >= 0 and devices_per_site >= 1")
    rng = np.random.default_rng(seed)
    sites = _make_sites(rng, _site_count(n_devices, devices_per_site))
    sizes = [len(a) for a in np.array_split(np.arange(n_devices), len(sites))] if sites else []
    numbers = _unique_numbers(rng, n_devices, 10**8)
    install = _install_dates(rng, n_devices)
    lacking = _lacking_sensors(install)
    site_of = [site for site, size in zip(sites, sizes, strict=True) for _ in range(size)]
    models = [_equipment(rng, site) for site in site_of]
    firmware = [_firmware(rng, installed) for installed in install]
    noise_keys = rng.integers(0, 2**63 - 1, n_devices)
    # Physical parameters come from their own stream, so the layout above stays the same
    # when the parameter ranges are tuned.
    params = draw_params(
        np.random.default_rng([seed & (2**63 - 1), _PARAMS_STREAM]),
        [PROFILES[m] for m in models],
        np.array([s.outdoor_mean_c for s in site_of]),
        np.array([s.store_air_c for s in site_of]),
        np.array([s.room_rh_pct for s in site_of]),
    )
    devices = tuple(
        DeviceSpec(
            device_id=f"REF-{site.region}-{int(numbers[i]):08d}",
            site_id=site.site_id,
            region=site.region,
            climate_zone=site.climate_zone,
            equipment_model=models[i],
            install_date=install[i],
            firmware_version=firmware[i],
            sensors=tuple(s for s in SENSOR_NAMES if s not in lacking.get(i, ())),
            physics=params[i],
            utc_offset_h=site.utc_offset_h,
            noise_key=int(noise_keys[i]),
        )
        for i, site in enumerate(site_of)
    )
    return FleetLayout(sites=tuple(sites), devices=devices)


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
    """Build one site in a city, with its weather."""
    chain = _CHAINS[int(rng.integers(0, len(_CHAINS)))]
    label = {"store": "", "warehouse": " Warehouse", "distribution_center": " DC"}[site_type]
    street = _STREETS[int(rng.integers(0, len(_STREETS)))]
    climate = CLIMATES[city.climate_zone]
    return SiteSpec(
        site_id=f"SITE-US-{city.code}-{number:04d}",
        site_name=f"{chain}{label} #{number} {city.name}",
        address=f"{int(rng.integers(100, 9999))} {street} St, {city.name}, {city.state}",
        region=city.region,
        climate_zone=city.climate_zone,
        site_type=site_type,
        utc_offset_h=REGION_UTC_OFFSET_H[city.region],
        outdoor_mean_c=round(float(rng.uniform(*climate.outdoor_mean_c)), 2),
        daily_amplitude_k=round(float(rng.uniform(*climate.daily_amplitude_k)), 2),
        store_air_c=round(float(rng.uniform(20.0, 23.0)), 2),
        room_rh_pct=round(float(rng.uniform(*climate.room_rh_pct)), 1),
        weather_key=int(rng.integers(0, 2**63 - 1)),
    )


def _equipment(rng: np.random.Generator, site: SiteSpec) -> str:
    """Draw the equipment model of one device at a site."""
    mix = _EQUIPMENT_MIX[site.site_type]
    weights = np.array([w for _, w in mix])
    return mix[int(rng.choice(len(mix), p=weights / weights.sum()))][0]


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


def _lacking_sensors(install: Sequence[date]) -> dict[int, tuple[str, ...]]:
    """Return, by device index, the sensors the oldest units were built without."""
    n = len(install)
    order = sorted(range(n), key=lambda i: (install[i], i))
    both = round(_NO_BOTH_SHARE * n)
    vibration = both + round(_NO_VIBRATION_SHARE * n)
    humidity = vibration + round(_NO_HUMIDITY_SHARE * n)
    lacking: dict[int, tuple[str, ...]] = {}
    for rank, i in enumerate(order[:humidity]):
        if rank < both:
            lacking[i] = (VIBRATION, HUMIDITY)
        elif rank < vibration:
            lacking[i] = (VIBRATION,)
        else:
            lacking[i] = (HUMIDITY,)
    return lacking


def _firmware(rng: np.random.Generator, installed: date) -> str:
    """Return a firmware version; older units run older major versions."""
    major = 2 if installed.year < 2016 else 3 if installed.year < 2020 else 4
    return f"{major}.{int(rng.integers(0, 10))}.{int(rng.integers(0, 20))}"
