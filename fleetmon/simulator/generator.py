"""Synthetic readings: one row per device per minute, deterministic and chunk-independent.

Every value is a pure function of (seed, device, minute). Random numbers come from a
counter-based hash (the splitmix64 finaliser) of the seed, the device's noise key, a stream
id and the epoch minute, never from a sequential RNG state, so `frame(t0, t2)` equals
`frame(t0, t1)` followed by `frame(t1, t2)` exactly.

A numeric sensor reads  device mean + device std · x  where x is a latent vector mixed by
the Cholesky factor of the spec §1.1 correlations. Each latent component blends a slow
(hours) and a medium (tens of minutes) smooth random process, both cubic B-splines
through hashed knots, with a little bounded measurement noise; the ambient component also
carries a daily cycle. Defrost cycles, door openings and faults are laid on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.sensors import BOOLEAN_SENSORS, NUMERIC_SENSORS, SENSOR_BY_NAME, SENSOR_NAMES
from fleetmon.simulator.faults import (
    Block,
    FaultSpec,
    Stage,
    apply_to_block,
    apply_to_defrost,
    apply_to_door,
)
from fleetmon.simulator.fleet import (
    DEFROST_RECOVERY_MIN,
    PROFILES,
    DeviceSpec,
    FleetLayout,
    epoch_minute,
)

COLUMNS: tuple[str, ...] = ("device_id", "timestamp", *SENSOR_NAMES)

# Spec §1.1 names four correlations; the others keep the matrix physically sensible
# (condenser and high side follow the ambient, suction and low side follow the coil).
CORRELATIONS: dict[tuple[str, str], float] = {
    ("temperature_evaporator", "current_compressor"): 0.6,
    ("pressure_high_side", "temperature_condenser"): 0.7,
    ("superheat", "temperature_suction"): 0.5,
    ("current_compressor", "vibration_compressor"): 0.4,
    ("temperature_evaporator", "vibration_compressor"): 0.24,
    ("temperature_ambient", "temperature_condenser"): 0.5,
    ("temperature_ambient", "pressure_high_side"): 0.35,
    ("temperature_condenser", "temperature_discharge"): 0.4,
    ("pressure_high_side", "temperature_discharge"): 0.3,
    ("temperature_evaporator", "temperature_suction"): 0.4,
    ("temperature_evaporator", "pressure_low_side"): 0.5,
    ("temperature_suction", "pressure_low_side"): 0.3,
    ("temperature_ambient", "humidity"): -0.2,
}

_SLOW_KNOT_MIN = 180
_MEDIUM_KNOT_MIN = 30
_SLOW_SHARE = 0.5  # shares of each latent's variance
_NOISE_SHARE = 0.003  # small enough that the evaporator moves < 1 °C/min
_MEDIUM_SHARE = 1.0 - _SLOW_SHARE - _NOISE_SHARE
_NOISE_CLIP = 2.0  # bounded measurement noise: no freak minute-to-minute jumps
_DAILY_SHARE = 0.4  # of the ambient latent's variance
_DAILY_PEAK_HOUR = 15.0  # local time
_DEFROST_RISE_TAU_MIN = 8.0  # the coil approaches its termination temperature
_DEFROST_FALL_TAU_MIN = 5.0  # and pulls down again in ~15 min after the heaters stop
_DEFROST_JITTER_MIN = 3
_COMPRESSOR_OFF_A = 0.2
_COMPRESSOR_OFF_VIBRATION = 0.2
# Warming of the evaporator in the minutes after a door opening, newest first (°C).
_DOOR_WARMING_C = (0.3, 0.3, 0.2, 0.15, 0.1)
_BLOCK_ROWS = 200_000  # devices × minutes per internal block; bounds memory only

_STREAM_SLOW, _STREAM_MEDIUM, _STREAM_NOISE = 100, 200, 300
_STREAM_DOOR, _STREAM_NULL, _STREAM_ROW, _STREAM_DEFROST = 400, 500, 600, 700
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_STREAM_STEP = 0xD1B54A32D192ED03
_MASK64 = (1 << 64) - 1


class FleetGenerator:
    """Generate a fleet's minute readings, with faults, as a pure function of the minute."""

    def __init__(
        self,
        fleet: FleetLayout,
        faults: Sequence[FaultSpec],
        *,
        seed: int,
        null_rate: float = 0.02,
    ) -> None:
        if not 0.0 <= null_rate <= 1.0:
            raise ValueError("null_rate must be in [0, 1]")
        self.fleet = fleet
        self.seed = seed
        self.null_rate = null_rate
        # Rows come out sorted by (timestamp, device_id), so keep the columns in id order.
        self.devices: tuple[DeviceSpec, ...] = tuple(
            sorted(fleet.devices, key=lambda d: d.device_id)
        )
        self._column = {d.device_id: j for j, d in enumerate(self.devices)}
        unknown = {f.device_id for f in faults} - set(self._column)
        if unknown:
            raise ValueError(f"faults for devices not in the fleet: {sorted(unknown)}")
        self.faults = tuple(faults)
        self._params = _DeviceArrays(self.devices, seed)

    def frame(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Return every device's readings for each minute in [start, end)."""
        m0, m1 = _aligned_minute(start), _aligned_minute(end)
        if m1 < m0:
            raise ValueError("end must not be before start")
        if m1 == m0 or not self.devices:
            empty = np.empty((0, len(SENSOR_NAMES)))
            return _to_frame(np.empty(0, object), np.empty(0, np.int64), empty)
        step = max(1, _BLOCK_ROWS // len(self.devices))
        parts = [
            self._block_rows(np.arange(b, min(b + step, m1), dtype=np.int64))
            for b in range(m0, m1, step)
        ]
        ids, minutes, readings = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        return _to_frame(ids, minutes, readings)

    def _block_rows(self, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compute one block and flatten it to (timestamp, device) row order.

        Returns the device ids, epoch minutes and a (row, sensor) array of the rows sent.
        """
        block, door_open, defrost = self._block(minutes)
        n_minutes, n_devices = block.present.shape
        keep = block.present.reshape(-1)
        readings = np.empty((n_minutes, n_devices, len(SENSOR_NAMES)))
        booleans = {"door_open_close": door_open, "defrost_cycle": defrost}
        for i, name in enumerate(SENSOR_NAMES):
            readings[:, :, i] = booleans[name] if name in BOOLEAN_SENSORS else block.values[name]
            readings[:, :, i][self._params.lacks(name)[None, :] | block.all_null] = np.nan
        nulls = self._null_mask(minutes)
        if nulls is not None:
            readings[nulls] = np.nan
        return (
            np.tile(self._params.ids, n_minutes)[keep],
            np.repeat(minutes, n_devices)[keep],
            readings.reshape(-1, len(SENSOR_NAMES))[keep],
        )

    def _block(self, minutes: np.ndarray) -> tuple[Block, np.ndarray, np.ndarray]:
        """Compute a block's sensor values, door and defrost states, faults applied."""
        p = self._params
        latent = _correlated_latent(p, minutes)
        numeric = p.mean.T[:, None, :] + p.std.T[:, None, :] * latent
        shape = (len(minutes), len(self.devices))
        block = Block(
            minutes=minutes,
            values={name: numeric[i] for i, name in enumerate(NUMERIC_SENSORS)},
            present=np.ones(shape, dtype=bool),
            all_null=np.zeros(shape, dtype=bool),
            row_uniform=_uniform(_hash_grid(p.stream(_STREAM_ROW), minutes)),
        )
        self._apply_faults(block, "unit")
        defrost, heat = self._defrost(minutes)
        door_open, door_warming = self._door(minutes)
        _apply_physics(block.values, p, defrost, heat, door_open, door_warming, latent)
        self._apply_faults(block, "probe")
        for name, array in block.values.items():
            sensor = SENSOR_BY_NAME[name]
            np.clip(array, sensor.low, sensor.high, out=array)
        return block, door_open, defrost

    def _apply_faults(self, block: Block, stage: Stage) -> None:
        """Apply every fault's effect of one stage to the block."""
        for fault in self.faults:
            column = self._column[fault.device_id]
            apply_to_block(fault, block, column, self.devices[column], stage=stage)

    def _defrost(self, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return where defrost is active and the defrost heat fraction (0…1) per row."""
        p = self._params
        m = minutes[:, None]
        cycle_start = m - (m - p.defrost_phase[None, :]) % p.defrost_interval[None, :]
        cycle = (cycle_start - p.defrost_phase[None, :]) // p.defrost_interval[None, :]
        jitter_span = 2 * _DEFROST_JITTER_MIN + 1
        jitter = _hash_rows(p.defrost_key, cycle) % np.uint64(jitter_span)
        duration = p.defrost_duration[None, :] + jitter.astype(np.int64) - _DEFROST_JITTER_MIN
        for fault in self.faults:
            column = self._column[fault.device_id]
            apply_to_defrost(fault, minutes, cycle_start[:, column], duration[:, column])
        since = (m - cycle_start).astype(np.float64)
        active = since < duration
        heat_at_end = 1.0 - np.exp(-duration / _DEFROST_RISE_TAU_MIN)
        after = since - duration
        cooling = heat_at_end * np.exp(-np.maximum(after, 0.0) / _DEFROST_FALL_TAU_MIN)
        heat = np.where(
            active,
            1.0 - np.exp(-since / _DEFROST_RISE_TAU_MIN),
            np.where(after < DEFROST_RECOVERY_MIN, cooling, 0.0),
        )
        return active, heat

    def _door(self, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return where the door is open and the evaporator warming it causes per row."""
        p = self._params
        longest = int(p.door_max_min.max())
        lookback = longest - 1 + len(_DOOR_WARMING_C) - 1
        extended = np.arange(minutes[0] - lookback, minutes[-1] + 1, dtype=np.int64)
        h = _hash_grid(p.stream(_STREAM_DOOR), extended)
        starts = _uniform(h) < p.door_start_probability[None, :]
        span = (p.door_max_min - p.door_min_min + 1).astype(np.uint64)
        length = p.door_min_min[None, :] + ((h & np.uint64(0xFFFF)) % span).astype(np.int64)
        door_open = starts.copy()
        for lag in range(1, longest):
            door_open[lag:] |= starts[:-lag] & (length[:-lag] > lag)
        for fault in self.faults:
            apply_to_door(fault, extended, door_open[:, self._column[fault.device_id]])
        n = len(minutes)
        warming = np.zeros((n, len(self.devices)))
        for lag, degrees in enumerate(_DOOR_WARMING_C):
            warming += degrees * door_open[lookback - lag : lookback - lag + n]
        return door_open[lookback:], warming

    def _null_mask(self, minutes: np.ndarray) -> np.ndarray | None:
        """Return a (minute, device, sensor) mask of randomly null values, or None."""
        if self.null_rate <= 0.0:
            return None
        threshold = np.uint64(round(self.null_rate * 65536))
        masks = []
        # One 64-bit hash yields four 16-bit uniforms: four hashes cover the 14 sensors.
        for word in range(math.ceil(len(SENSOR_NAMES) / 4)):
            h = _hash_grid(self._params.stream(_STREAM_NULL + word), minutes)
            for part in range(4):
                masks.append(((h >> np.uint64(16 * part)) & np.uint64(0xFFFF)) < threshold)
        return np.stack(masks[: len(SENSOR_NAMES)], axis=-1)


class _DeviceArrays:
    """Per-device parameters as arrays over the generator's device columns."""

    def __init__(self, devices: Sequence[DeviceSpec], seed: int) -> None:
        self.ids = np.array([d.device_id for d in devices], dtype=object)
        n_numeric = len(NUMERIC_SENSORS)
        self.mean = np.array([d.baseline_mean for d in devices]).reshape(-1, n_numeric)
        self.std = np.array([d.baseline_std for d in devices]).reshape(-1, n_numeric)
        self.utc_offset_h = np.array([d.utc_offset_h for d in devices], dtype=np.float64)
        self.defrost_interval = np.array([d.defrost_interval_min for d in devices], np.int64)
        self.defrost_phase = np.array([d.defrost_phase_min for d in devices], np.int64)
        self.defrost_duration = np.array([d.defrost_duration_min for d in devices], np.int64)
        self.defrost_target = np.array([d.defrost_termination_c for d in devices])
        profiles = [PROFILES[d.equipment_model] for d in devices]
        self.door_start_probability = np.array(
            [d.door_openings_per_h / 60.0 for d in devices], dtype=np.float64
        )
        self.door_min_min = np.array([p.door_duration_min[0] for p in profiles], np.int64)
        self.door_max_min = np.array([p.door_duration_min[1] for p in profiles], np.int64)
        self._missing = {
            name: np.array([name not in d.sensors for d in devices], dtype=bool)
            for name in SENSOR_NAMES
        }
        keys = np.array([d.noise_key & _MASK64 for d in devices], dtype=np.uint64)
        seed_key = _mix64(np.array([seed & _MASK64], dtype=np.uint64) + _GOLDEN)
        self._seeded = _mix64(keys ^ seed_key)
        # The defrost schedule belongs to the device, not to a generator seed, so fault
        # planning and every generator agree on when defrosts happen.
        self.defrost_key = _stream_key(_mix64(keys), _STREAM_DEFROST)

    def stream(self, stream: int) -> np.ndarray:
        """Return each device's key for one random stream under the generator seed."""
        return _stream_key(self._seeded, stream)

    def lacks(self, sensor: str) -> np.ndarray:
        """Return which devices do not carry the sensor."""
        return self._missing[sensor]


def _aligned_minute(moment: datetime) -> int:
    """Return the epoch minute of a tz-aware datetime that falls on a whole minute."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    if moment.second or moment.microsecond or moment.utcoffset() % timedelta(minutes=1):
        raise ValueError("datetimes must be aligned to the minute")
    return epoch_minute(moment)


# ---------------------------------------------------------------------------------------
# Counter-based randomness
# ---------------------------------------------------------------------------------------


def _mix64(x: np.ndarray) -> np.ndarray:
    """Scramble 64-bit integers with the splitmix64 finaliser (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _stream_key(keys: np.ndarray, stream: int) -> np.ndarray:
    """Derive per-device keys for one numbered random stream."""
    # Python ints: numpy warns on (intended) wrap-around in scalar arithmetic.
    return _mix64(keys + np.uint64((stream * _STREAM_STEP) & _MASK64))


def _hash_grid(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Return a (counter, device) grid of hashes: a splitmix64 sequence per device key."""
    return _mix64(keys[None, :] + counters.astype(np.uint64)[:, None] * _GOLDEN)


def _hash_rows(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Hash a (minute, device) grid of counters, each with its own device's key."""
    return _mix64(keys[None, :] + counters.astype(np.uint64) * _GOLDEN)


def _uniform(h: np.ndarray) -> np.ndarray:
    """Map hashes to uniforms in [0, 1) with 53-bit resolution."""
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal_pair(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map each hash to two independent standard normals (Box–Muller on its 32-bit halves)."""
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32
    u2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return radius * np.cos(angle), radius * np.sin(angle)


def _normals(p: _DeviceArrays, stream: int, counters: np.ndarray) -> np.ndarray:
    """Return a (component, counter, device) array of standard normals for 12 components."""
    out = np.empty((len(NUMERIC_SENSORS), len(counters), len(p.ids)))
    for pair in range(len(NUMERIC_SENSORS) // 2):
        out[2 * pair], out[2 * pair + 1] = _normal_pair(
            _hash_grid(p.stream(stream + pair), counters)
        )
    return out


# ---------------------------------------------------------------------------------------
# Latent process
# ---------------------------------------------------------------------------------------


def _cholesky() -> np.ndarray:
    """Return the Cholesky factor of the sensor correlation matrix."""
    n = len(NUMERIC_SENSORS)
    matrix = np.eye(n)
    for (a, b), rho in CORRELATIONS.items():
        i, j = NUMERIC_SENSORS.index(a), NUMERIC_SENSORS.index(b)
        matrix[i, j] = matrix[j, i] = rho
    return np.linalg.cholesky(matrix)


_CHOLESKY = _cholesky()
_AMBIENT = NUMERIC_SENSORS.index("temperature_ambient")


def _correlated_latent(p: _DeviceArrays, minutes: np.ndarray) -> np.ndarray:
    """Return the (component, minute, device) unit-variance latent, mixed to the correlations.

    TRICKY: no matrix products here. BLAS may sum in a different order for a different
    block shape or memory alignment, which would break bit-exact chunk independence;
    element-wise numpy arithmetic is exact per element whatever the shape.
    """
    z = _smooth_noise(p, _STREAM_SLOW, minutes, _SLOW_KNOT_MIN)
    z *= math.sqrt(_SLOW_SHARE)
    z += math.sqrt(_MEDIUM_SHARE) * _smooth_noise(p, _STREAM_MEDIUM, minutes, _MEDIUM_KNOT_MIN)
    noise = np.clip(_normals(p, _STREAM_NOISE, minutes), -_NOISE_CLIP, _NOISE_CLIP)
    z += math.sqrt(_NOISE_SHARE) * noise
    local_hour = (minutes[:, None] / 60.0 + p.utc_offset_h[None, :]) % 24.0
    daily = math.sqrt(2.0) * np.cos(2.0 * np.pi * (local_hour - _DAILY_PEAK_HOUR) / 24.0)
    z[_AMBIENT] *= math.sqrt(1.0 - _DAILY_SHARE)
    z[_AMBIENT] += math.sqrt(_DAILY_SHARE) * daily
    mixed = np.empty_like(z)
    for i in range(len(z)):
        mixed[i] = _CHOLESKY[i, 0] * z[0]
        for j in range(1, i + 1):
            mixed[i] += _CHOLESKY[i, j] * z[j]
    return mixed


def _smooth_noise(p: _DeviceArrays, stream: int, minutes: np.ndarray, knot_min: int) -> np.ndarray:
    """Return unit-variance value noise: a cubic B-spline through hashed normal knots."""
    knot = minutes // knot_min
    u = (minutes - knot * knot_min) / knot_min
    first = int(knot[0]) - 1
    knots = _normals(p, stream, np.arange(first, int(knot[-1]) + 3, dtype=np.int64))
    weights = (
        (1.0 - u) ** 3 / 6.0,
        (3.0 * u**3 - 6.0 * u**2 + 4.0) / 6.0,
        (-3.0 * u**3 + 3.0 * u**2 + 3.0 * u + 1.0) / 6.0,
        u**3 / 6.0,
    )
    # The spline's variance dips between knots; dividing by its norm keeps it at 1.
    norm = np.sqrt(weights[0] ** 2 + weights[1] ** 2 + weights[2] ** 2 + weights[3] ** 2)
    index = knot - first - 1
    out = (weights[0] / norm)[None, :, None] * knots[:, index]
    for tap in range(1, 4):
        out += (weights[tap] / norm)[None, :, None] * knots[:, index + tap]
    return out


# ---------------------------------------------------------------------------------------
# Physics: defrost and door
# ---------------------------------------------------------------------------------------


def _apply_physics(
    values: dict[str, np.ndarray],
    p: _DeviceArrays,
    defrost: np.ndarray,
    heat: np.ndarray,
    door_open: np.ndarray,
    door_warming: np.ndarray,
    latent: np.ndarray,
) -> None:
    """Lay defrost cycles (compressor off, coil heated) and door openings on the values."""
    evap = values["temperature_evaporator"]
    evap += door_warming
    evap += heat * (p.defrost_target[None, :] - evap)
    values["humidity"] += 10.0 * heat + 4.0 * door_open
    ambient = values["temperature_ambient"]
    cond = values["temperature_condenser"]
    cond -= 0.7 * heat * np.maximum(cond - ambient - 3.0, 0.0)
    values["temperature_discharge"] -= 20.0 * heat
    suction_mean = p.mean[None, :, NUMERIC_SENSORS.index("temperature_suction")]
    values["temperature_suction"] += 0.5 * heat * (p.defrost_target[None, :] - suction_mean)
    values["pressure_high_side"] *= 1.0 - 0.3 * heat
    # Kept below a 15 % swing so the pull-down never looks like a 30 % pressure loss.
    values["pressure_low_side"] *= 1.0 + 0.15 * heat
    current = values["current_compressor"]
    wiggle = 0.03 * np.abs(latent[NUMERIC_SENSORS.index("current_compressor")])
    # Pull-down after a defrost loads the compressor a little harder.
    current[:] = np.where(defrost, _COMPRESSOR_OFF_A + wiggle, current * (1.0 + 0.3 * heat))
    vibration = values["vibration_compressor"]
    vibration[:] = np.where(defrost, _COMPRESSOR_OFF_VIBRATION + wiggle, vibration)


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def _to_frame(ids: np.ndarray, minutes: np.ndarray, readings: np.ndarray) -> pd.DataFrame:
    """Build the output DataFrame from device ids, epoch minutes and a (row, sensor) array."""
    frame = pd.DataFrame(readings, columns=list(SENSOR_NAMES), copy=False)
    nanos = (minutes * np.int64(60_000_000_000)).view("datetime64[ns]")
    frame.insert(0, "timestamp", pd.DatetimeIndex(nanos).tz_localize("UTC"))
    frame.insert(0, "device_id", pd.array(ids, dtype=str))
    return frame


def to_messages(frame: pd.DataFrame, fleet: FleetLayout) -> list[dict]:
    """Turn generated rows into raw device messages (spec §1), JSON-native types only.

    A sensor the device does not carry is left out of `readings`; any other NaN becomes
    None. No `event_id`: the app derives one on ingest.
    """
    sensors_of = {d.device_id: d.sensors for d in fleet.devices}
    stamps = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    columns = {name: _json_values(frame[name].to_numpy(np.float64), name) for name in SENSOR_NAMES}
    messages = []
    for i, device_id in enumerate(frame["device_id"].tolist()):
        readings = {name: columns[name][i] for name in sensors_of[device_id]}
        messages.append({"device_id": device_id, "timestamp": stamps[i], "readings": readings})
    return messages


def _json_values(values: np.ndarray, name: str) -> list[float | bool | None]:
    """Convert one column to JSON-native values: float or bool, None for NaN."""
    if name in BOOLEAN_SENSORS:
        return [None if math.isnan(v) else v == 1.0 for v in values.tolist()]
    return [None if math.isnan(v) else v for v in values.tolist()]
