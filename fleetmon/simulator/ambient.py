"""Ambient temperatures around each unit: outdoor weather, store air, machine rooms.

- Outdoor: the site's climate mean, a daily cycle peaking mid-afternoon local time, and
  slow day-to-day weather (a smooth random process with knots a day apart).
- Store air: HVAC holds it near its set point; only a small share of outdoor swings get in.
- A walk-in's condensing unit sits outdoors or in a ventilated machine room: it sees the
  outdoor swings plus its own heat, but thermostatic ventilation keeps the room above a
  floor in cold weather. A display case's condensing unit sits in the store air.
- The walls of a walk-in see a back room partly open to the outdoors; a display case's
  walls see the store.

Offsets (covariate shifts, hot afternoons) are added to the outdoor temperature, and
reach each unit through the same physics as the weather.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fleetmon.simulator.fleet import DeviceSpec, FleetLayout
from fleetmon.simulator.randomness import smooth_noise
from fleetmon.simulator.refrigerant import vapour_pressure_water

_WEATHER_STD_K = 2.5
_WEATHER_KNOT_MIN = 1440
_PEAK_HOUR = 15.0
_STORE_DAILY_K = 0.4
_SOFTNESS_K = 1.5  # how gradually machine-room ventilation takes over near its floor


@dataclass(frozen=True)
class OutdoorOffset:
    """`kelvin` more outdoor temperature for `columns` over [start_s, end_s), ramped."""

    columns: np.ndarray
    start_s: float
    end_s: float
    kelvin: float
    ramp_s: float = 0.0

    def at(self, seconds: np.ndarray) -> np.ndarray:
        """Return the offset (K) at each time in epoch seconds."""
        inside = (seconds >= self.start_s) & (seconds < self.end_s)
        if self.ramp_s <= 0.0:
            return np.where(inside, self.kelvin, 0.0)
        rise = np.clip((seconds - self.start_s) / self.ramp_s, 0.0, 1.0)
        fall = np.clip((self.end_s - seconds) / self.ramp_s, 0.0, 1.0)
        shape = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
        return np.where(inside, self.kelvin * shape, 0.0)


@dataclass
class Ambient:
    """Per-step ambient conditions of every device: unit air, box surroundings, room vapour."""

    unit_c: np.ndarray  # (time, device) air at the condensing unit: `temperature_ambient`
    room_c: np.ndarray  # (time, device) air around the box walls and door
    room_vapour_pa: np.ndarray  # (time, device) vapour pressure of that air


class AmbientModel:
    """Compute ambient conditions for the generator's device columns."""

    def __init__(self, fleet: FleetLayout, devices: Sequence[DeviceSpec]) -> None:
        sites = sorted({d.site_id for d in devices})
        self._site_index = np.array([sites.index(d.site_id) for d in devices], dtype=np.int64)
        spec = [fleet.site(s) for s in sites]
        self._weather_keys = np.array([s.weather_key for s in spec], dtype=np.uint64)
        self._outdoor_mean = np.array([s.outdoor_mean_c for s in spec])[self._site_index]
        self._amplitude = np.array([s.daily_amplitude_k for s in spec])[self._site_index]
        self._store = np.array([s.store_air_c for s in spec])[self._site_index]
        self._room_rh = np.array([s.room_rh_pct for s in spec])[self._site_index]
        self._utc_offset_h = np.array([d.utc_offset_h for d in devices], dtype=np.float64)
        self._walk_in = np.array([d.profile.kind == "walk_in" for d in devices])
        self._exposure = np.array([d.profile.climate_exposure for d in devices])
        physics = [d.physics for d in devices]
        self._floor = np.array([p.unit_floor_c for p in physics])
        self._gain = np.array([p.unit_gain_k for p in physics])
        self._room_share = np.array([p.room_outdoor_share for p in physics])

    def local_hour(self, seconds: np.ndarray) -> np.ndarray:
        """Return the (time, device) local hour of day for epoch seconds."""
        return (seconds[:, None] / 3600.0 + self._utc_offset_h[None, :]) % 24.0

    def at(self, seconds: np.ndarray, offsets: Sequence[OutdoorOffset] = ()) -> Ambient:
        """Return the ambient conditions at each time (epoch seconds) for every device."""
        hour = self.local_hour(seconds)
        daily = np.cos(2.0 * np.pi * (hour - _PEAK_HOUR) / 24.0)
        minutes = np.floor_divide(seconds, 60.0).astype(np.int64)
        weather = _WEATHER_STD_K * smooth_noise(self._weather_keys, minutes, _WEATHER_KNOT_MIN)
        anomaly = self._amplitude[None, :] * daily + weather[:, self._site_index]
        for offset in offsets:
            anomaly[:, offset.columns] += offset.at(seconds)[:, None]
        outdoor = self._outdoor_mean[None, :] + anomaly
        store = self._store[None, :] + _STORE_DAILY_K * daily
        store = store + self._exposure[None, :] * np.where(self._walk_in[None, :], 0.0, anomaly)
        # Ventilation holds the machine room above its floor: a soft maximum.
        exposed = outdoor + self._gain[None, :]
        floor = self._floor[None, :]
        machine_room = floor + _SOFTNESS_K * np.logaddexp(0.0, (exposed - floor) / _SOFTNESS_K)
        unit = np.where(self._walk_in[None, :], machine_room, store + self._gain[None, :])
        room = store + self._room_share[None, :] * (outdoor - store)
        vapour = self._room_rh[None, :] / 100.0 * vapour_pressure_water(store)
        return Ambient(unit_c=unit, room_c=room, room_vapour_pa=vapour)
