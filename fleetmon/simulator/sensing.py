"""Sensors and the link: turn the true physical state into the readings a device sends.

Each probe reads the true value plus its own calibration offset and a little noise; the
controller derives superheat and subcooling from its own (noisy) probes, so those columns
stay consistent with the suction, low-side and high-side readings. Then the link: random
nulls, glitches (one wild value), a stuck sensor, short gaps, dropouts, and nothing at
all while the site has no power. Sensors a device lacks are NaN.

The generator copies the true state into a `Record` once a minute (`record_minute`),
and turns a whole block of records into readings at once (`Sensors.readings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.drivers import BlockDrivers
from fleetmon.simulator.physics import DRIP, HEAT, STEPS_PER_MINUTE, Params, State
from fleetmon.simulator.randomness import hash_grid, normal_pair, stream_key, uniform, uniform_parts
from fleetmon.simulator.refrigerant import psat, tsat, vapour_pressure_water

COLUMN = {name: i for i, name in enumerate(SENSOR_NAMES)}
STREAM_NOISE = 1000
STREAM_NULL = 1100
STREAM_GAP = 1200
STREAM_ROW = 1300
STREAM_SPIKE = 1400
STREAM_OFF_CURRENT = 1500
_GAP_START_PER_MIN = 1.0 / 3000.0
_GAP_LONGEST_MIN = 8
_TEMPERATURE_NOISE_K = {
    "temperature_evaporator": 0.08,
    "temperature_condenser": 0.1,
    "temperature_ambient": 0.1,
    "temperature_discharge": 0.2,
    "temperature_suction": 0.08,
}


@dataclass
class Record:
    """True values of every device at each minute of a block, (minute, device) arrays."""

    t_air: np.ndarray
    t_prod: np.ndarray
    t_coil: np.ndarray
    t_suct: np.ndarray
    t_cond: np.ndarray
    t_dis: np.ndarray
    t_unit: np.ndarray
    p_low: np.ndarray
    subcool: np.ndarray
    vapour: np.ndarray
    current: np.ndarray
    load: np.ndarray
    wear: np.ndarray
    comp_on: np.ndarray
    defrost: np.ndarray
    door: np.ndarray
    powered: np.ndarray

    @classmethod
    def empty(cls, n_minutes: int, n_devices: int) -> Record:
        """Allocate a record for a block."""
        shape = (n_minutes, n_devices)
        flags = {"comp_on", "defrost", "door", "powered"}
        return cls(
            **{
                name: np.zeros(shape, dtype=bool if name in flags else np.float64)
                for name in cls.__dataclass_fields__
            }
        )

    @property
    def humidity(self) -> np.ndarray:
        """Return the box air's relative humidity (%, over water)."""
        return np.minimum(100.0 * self.vapour / vapour_pressure_water(self.t_air), 100.0)


@dataclass(frozen=True)
class Stuck:
    """A sensor of one device column holding `value` over minutes [start, end)."""

    column: int
    sensor: str
    start: int
    end: int
    value: float


@dataclass(frozen=True)
class Glitch:
    """One wild reading of one sensor of one device column at one minute."""

    column: int
    sensor: str
    minute: int
    value: float


@dataclass(frozen=True)
class Silence:
    """A device column sending nothing (full) or all-null rows (a share) over [start, end)."""

    column: int
    start: int
    end: int
    null_row_fraction: float = 1.0
    full: bool = True


def measure_true(name: str, true: float, p: Params, column: int) -> float:
    """Return what a probe reads for a true value, calibration included and noise left out."""
    offsets = {
        "temperature_evaporator": p.cal_evap,
        "temperature_condenser": p.cal_cond,
        "temperature_ambient": p.cal_amb,
        "temperature_discharge": p.cal_dis,
        "temperature_suction": p.cal_suct,
        "humidity": p.cal_humidity,
    }
    if name in offsets:
        return float(true + offsets[name][column])
    scale = {"pressure_low_side": p.cal_lp, "pressure_high_side": p.cal_hp}[name]
    return float(true * (1.0 + scale[column]))


class Sensors:
    """Turn records into readings for the generator's device columns."""

    def __init__(
        self, keys: np.ndarray, params: Params, lacking: np.ndarray, null_rate: float
    ) -> None:
        self._p = params
        self._keys = keys
        self._lacking = lacking  # (device, sensor) bool
        self._null_rate = null_rate
        self._off_current = 0.2 * uniform(stream_key(keys, STREAM_OFF_CURRENT))

    def readings(
        self,
        rec: Record,
        minutes: np.ndarray,
        stuck: list[Stuck],
        glitches: list[Glitch],
        silences: list[Silence],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the (minute, device, sensor) readings and the (minute, device) sent mask."""
        p = self._p
        n_min, n_dev = rec.t_air.shape
        noise = self._normals(minutes, 12)
        out = np.empty((n_min, n_dev, len(SENSOR_NAMES)))

        def temperature(name: str, true: np.ndarray, offset: np.ndarray, k: int) -> None:
            out[:, :, COLUMN[name]] = true + offset[None, :] + _TEMPERATURE_NOISE_K[name] * noise[k]

        temperature("temperature_evaporator", rec.t_coil, p.cal_evap, 0)
        temperature("temperature_condenser", rec.t_cond, p.cal_cond, 1)
        temperature("temperature_ambient", rec.t_unit, p.cal_amb, 2)
        temperature("temperature_discharge", rec.t_dis, p.cal_dis, 3)
        temperature("temperature_suction", rec.t_suct, p.cal_suct, 4)
        p_high = psat(rec.t_cond)
        out[:, :, COLUMN["pressure_high_side"]] = (
            p_high * (1.0 + p.cal_hp[None, :]) * (1.0 + 0.003 * noise[5])
        )
        out[:, :, COLUMN["pressure_low_side"]] = (
            rec.p_low * (1.0 + p.cal_lp[None, :]) * (1.0 + 0.004 * noise[6]) + 0.5 * noise[7]
        )
        running = rec.current * (1.0 + p.cal_current[None, :]) * (1.0 + 0.01 * noise[8])
        resting = self._off_current[None, :] + 0.03 * np.abs(noise[8])
        out[:, :, COLUMN["current_compressor"]] = np.maximum(
            np.where(rec.comp_on, running, resting), 0.0
        )
        out[:, :, COLUMN["vibration_compressor"]] = self._vibration(rec, minutes, noise[9])
        humidity = rec.humidity + p.cal_humidity[None, :] + 0.5 * noise[10]
        out[:, :, COLUMN["humidity"]] = np.clip(humidity, 0.0, 100.0)
        out[:, :, COLUMN["door_open_close"]] = rec.door
        out[:, :, COLUMN["defrost_cycle"]] = rec.defrost
        liquid = rec.t_cond - rec.subcool + p.cal_liquid[None, :] + 0.08 * noise[11]

        for s in stuck:
            rows = (minutes >= s.start) & (minutes < s.end)
            out[rows, s.column, COLUMN[s.sensor]] = s.value

        # The controller derives these from its own probes, stuck or not.
        out[:, :, COLUMN["superheat"]] = out[:, :, COLUMN["temperature_suction"]] - tsat(
            np.maximum(out[:, :, COLUMN["pressure_low_side"]], 1.0)
        )
        out[:, :, COLUMN["subcooling"]] = (
            tsat(np.maximum(out[:, :, COLUMN["pressure_high_side"]], 1.0)) - liquid
        )

        if self._null_rate > 0.0:
            out[self._null_mask(minutes)] = np.nan
        for g in glitches:
            index = np.searchsorted(minutes, g.minute)
            if index < n_min and minutes[index] == g.minute:
                out[index, g.column, COLUMN[g.sensor]] = g.value
        out[:, self._lacking] = np.nan

        sent = rec.powered & ~self._gaps(minutes)
        if silences:
            row_u = uniform(hash_grid(stream_key(self._keys, STREAM_ROW), minutes))
            for s in silences:
                rows = (minutes >= s.start) & (minutes < s.end)
                if s.full:
                    sent[rows, s.column] = False
                else:
                    nulled = rows & (row_u[:, s.column] < s.null_row_fraction)
                    out[nulled, s.column, :] = np.nan
        return out, sent

    def _normals(self, minutes: np.ndarray, count: int) -> np.ndarray:
        """Return (count, minute, device) standard normals for this block's minutes."""
        out = np.empty((count, len(minutes), len(self._keys)))
        for pair in range((count + 1) // 2):
            first, second = normal_pair(
                hash_grid(stream_key(self._keys, STREAM_NOISE + pair), minutes)
            )
            out[2 * pair] = first
            if 2 * pair + 1 < count:
                out[2 * pair + 1] = second
        return out

    def _vibration(self, rec: Record, minutes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Return vibration: running level, bearing wear with its spikes, and resting level."""
        p = self._p
        wear = rec.wear
        growth = 1.0 + 1.5 * wear + 6.0 * wear**4
        u_spike, u_size, _ = uniform_parts(hash_grid(stream_key(self._keys, STREAM_SPIKE), minutes))
        spike = np.where(u_spike < 0.005 + 0.25 * wear**2, 1.5 + 2.0 * u_size, 1.0)
        spike = np.where(wear > 0.0, spike, 1.0)
        running = p.vib_run[None, :] * (1.0 + 0.12 * (rec.load - 1.0)) * growth * spike
        level = np.where(rec.comp_on, running, p.vib_rest[None, :])
        return np.maximum(level * (1.0 + p.cal_vib[None, :]) * (1.0 + 0.04 * noise), 0.0)

    def _null_mask(self, minutes: np.ndarray) -> np.ndarray:
        """Return a (minute, device, sensor) mask of randomly null values."""
        threshold = np.uint64(round(self._null_rate * 65536))
        masks = []
        # One 64-bit hash yields four 16-bit uniforms: four hashes cover the 14 sensors.
        for word in range(4):
            h = hash_grid(stream_key(self._keys, STREAM_NULL + word), minutes)
            for part in range(4):
                masks.append(((h >> np.uint64(16 * part)) & np.uint64(0xFFFF)) < threshold)
        return np.stack(masks[: len(SENSOR_NAMES)], axis=-1)

    def _gaps(self, minutes: np.ndarray) -> np.ndarray:
        """Return where a short link gap swallows the message."""
        longest = _GAP_LONGEST_MIN
        counters = np.arange(minutes[0] - longest + 1, minutes[-1] + 1, dtype=np.int64)
        u_start, u_length, _ = uniform_parts(
            hash_grid(stream_key(self._keys, STREAM_GAP), counters)
        )
        starts = u_start < _GAP_START_PER_MIN
        length = 1 + np.floor(u_length * longest).astype(np.int64)
        gap = np.zeros((len(minutes), len(self._keys)), dtype=bool)
        index = minutes - counters[0]
        for lag in range(longest):
            rows = index - lag
            gap |= starts[rows] & (length[rows] > lag)
        return gap


def record_minute(
    rec: Record,
    i: int,
    s: State,
    drivers: BlockDrivers,
    wear: np.ndarray | None,
    powered: np.ndarray | None,
    p: Params,
) -> None:
    """Copy the true state at minute index i of the block into the record."""
    row = STEPS_PER_MINUTE * i
    rec.t_air[i] = s.t_air
    rec.t_prod[i] = s.t_prod
    rec.t_coil[i] = s.t_coil
    rec.t_suct[i] = s.t_suct
    rec.t_cond[i] = s.t_cond
    rec.t_dis[i] = s.t_dis
    rec.p_low[i] = s.p_low
    rec.subcool[i] = s.subcool
    rec.vapour[i] = s.vapour
    rec.current[i] = s.current
    rec.load[i] = s.load
    rec.comp_on[i] = s.comp_on
    rec.defrost[i] = ((s.phase == HEAT) | (s.phase == DRIP)) & p.scheduled
    # The gateway shares the site's power: a minute with none sends nothing.
    rec.powered[i] = powered[row] if powered is not None else True
    assert drivers.ambient is not None and drivers.door_reading is not None
    rec.t_unit[i] = drivers.ambient.unit_c[row]
    rec.door[i] = drivers.door_reading[i]
    if wear is not None:
        rec.wear[i] = wear[row]


def true_value(s: State, drivers: BlockDrivers, i: int, column: int, sensor: str) -> float:
    """Return the true value a sensor of one device measures now."""
    assert drivers.ambient is not None
    match sensor:
        case "temperature_evaporator":
            return float(s.t_coil[column])
        case "temperature_condenser":
            return float(s.t_cond[column])
        case "temperature_ambient":
            return float(drivers.ambient.unit_c[STEPS_PER_MINUTE * i, column])
        case "temperature_discharge":
            return float(s.t_dis[column])
        case "temperature_suction":
            return float(s.t_suct[column])
        case "pressure_low_side":
            return float(s.p_low[column])
        case "pressure_high_side":
            return float(psat(s.t_cond[column]))
        case "humidity":
            saturation = vapour_pressure_water(np.array(s.t_air[column]))
            return float(min(100.0 * s.vapour[column] / saturation, 100.0))
    raise ValueError(f"no stuck model for sensor {sensor}")
