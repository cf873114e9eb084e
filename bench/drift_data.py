"""Synthetic C3 feature frames for `bench.bench_drift`: a baseline sample and one window.

The devices, their cohorts, sensors and per-device baselines are the simulator's
(`make_fleet`, so 16 cohorts of 3-12 k devices and 10 % without a vibration sensor). Each
row is one 15-minute window of one device, drawn around that device's baseline:

- per sensor the window mean wanders by half the device's std between days, the window
  std is about 0.3 std (log-normal), min/max sit about 2 window stds out, slopes are small;
- door and defrost fractions are k/15 (a 15-reading window), mostly 0 for defrost;
- reading_count is mostly 15, sensor_completeness mostly 1.0, quality_flag_count Poisson:
  these have heavy ties, as the real ones do;
- 0.5 % of values are null at random, and every vibration feature is null for devices
  without the sensor.

The current window carries real drift: +5 °C ambient in the hot-dry climate zone (with
the condenser side following it), compressor vibration x1.25 for the DF-3HP freezers (a
bad batch), and +2 pp humidity fleet-wide. Everything else is drawn from the same law.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetmon.sensors import NUMERIC_SENSORS
from fleetmon.simulator.fleet import make_fleet
from scoring.features import AGGREGATES

READINGS_PER_WINDOW = 15
NULL_SHARE = 0.005
# The ambient offset and how condenser-side sensors follow it (the simulator's coupling).
AMBIENT_SHIFT_C = 5.0
COUPLING = {"temperature_condenser": 0.6, "temperature_discharge": 0.5, "pressure_high_side": 15.0}


def device_table(devices: int, seed: int) -> pd.DataFrame:
    """One row per simulated device: cohort, model, zone, baseline mean/std per sensor."""
    fleet = make_fleet(devices, seed=seed)
    table = pd.DataFrame(
        {
            "device_id": [d.device_id for d in fleet.devices],
            "equipment_model": [d.equipment_model for d in fleet.devices],
            "climate_zone": [d.climate_zone for d in fleet.devices],
            "has_vibration": [d.has("vibration_compressor") for d in fleet.devices],
            "door_per_h": [d.door_openings_per_h for d in fleet.devices],
        }
    )
    table["cohort_id"] = table["equipment_model"] + "/" + table["climate_zone"]
    means = np.array([d.baseline_mean for d in fleet.devices])
    stds = np.array([d.baseline_std for d in fleet.devices])
    for i, sensor in enumerate(NUMERIC_SENSORS):
        table[f"mu_{sensor}"] = means[:, i]
        table[f"sd_{sensor}"] = stds[:, i]
    return table


def windows(
    table: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator, *, drifted: bool
) -> pd.DataFrame:
    """Feature rows for the devices at `rows` (indexes into `table`, repeats allowed)."""
    dev = table.iloc[rows].reset_index(drop=True)
    n = len(dev)
    shift = {sensor: np.zeros(n) for sensor in NUMERIC_SENSORS}
    vibration_factor = np.ones(n)
    if drifted:
        hot = (dev["climate_zone"] == "hot-dry").to_numpy()
        shift["temperature_ambient"] += AMBIENT_SHIFT_C * hot
        for sensor, per_degree in COUPLING.items():
            shift[sensor] += per_degree * AMBIENT_SHIFT_C * hot
        vibration_factor[(dev["equipment_model"] == "DF-3HP").to_numpy()] = 1.25
        shift["humidity"] += 2.0
    columns: dict[str, np.ndarray] = {}
    window_mean = {}
    for sensor in NUMERIC_SENSORS:
        mu, sd = dev[f"mu_{sensor}"].to_numpy(), dev[f"sd_{sensor}"].to_numpy()
        window_mean[sensor] = mu + shift[sensor] + 0.5 * sd * rng.standard_normal(n)
        if sensor == "vibration_compressor":
            window_mean[sensor] *= vibration_factor
    for agg in AGGREGATES:
        if agg.how == "fraction":
            if agg.sensor == "door_open_close":
                p = dev["door_per_h"].to_numpy() * 2.0 / 60  # ~2 min open per opening
                k = rng.binomial(READINGS_PER_WINDOW, np.clip(p, 0, 1))
            else:  # defrost: about one window in eight has some
                k = np.where(rng.random(n) < 0.12, rng.integers(1, 16, n), 0)
            columns[agg.name] = k / READINGS_PER_WINDOW
            continue
        sd = dev[f"sd_{agg.sensor}"].to_numpy()
        m = window_mean[agg.sensor]
        s = 0.3 * sd * np.exp(0.2 * rng.standard_normal(n))
        if agg.sensor == "vibration_compressor":
            s = s * vibration_factor
        columns[agg.name] = {
            "mean": lambda m=m: m,
            "std": lambda s=s: s,
            "min": lambda m=m, s=s: m - 2 * s * rng.uniform(0.8, 1.2, n),
            "max": lambda m=m, s=s: m + 2 * s * rng.uniform(0.8, 1.2, n),
            "slope": lambda sd=sd: 0.02 * sd * rng.standard_normal(n),
            "p95": lambda m=m, s=s: m + 1.6 * s,
        }[agg.how]()
    frame = pd.DataFrame(columns)
    frame["pressure_ratio"] = frame["pressure_high_mean"] / frame["pressure_low_mean"]
    frame["temp_spread_evap_cond"] = frame["temp_condenser_mean"] - frame["temp_evaporator_mean"]
    frame["temp_spread_discharge_suction"] = (
        frame["temp_discharge_mean"] - frame["temp_suction_mean"]
    )
    frame["current_per_temp_spread"] = (
        frame["current_compressor_mean"] / frame["temp_spread_evap_cond"]
    )
    missing = rng.random(frame.shape) < NULL_SHARE
    frame = frame.mask(missing)
    vibration = [c for c in frame.columns if c.startswith("vibration_")]
    frame.loc[~dev["has_vibration"].to_numpy(), vibration] = np.nan
    late = rng.random(n) < 0.04
    frame["reading_count"] = np.where(late, rng.integers(10, 15, n), READINGS_PER_WINDOW)
    frame["sensor_completeness"] = 1.0 - missing.sum(axis=1) / len(NUMERIC_SENSORS) / 3
    frame["quality_flag_count"] = rng.poisson(0.3, n).astype(np.float64)
    frame.insert(0, "device_id", dev["device_id"].to_numpy())
    frame.insert(1, "cohort_id", dev["cohort_id"].to_numpy())
    return frame


def drift_frames(
    *, devices: int, baseline_rows: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(baseline, current): `baseline_rows` undrifted windows of random devices (the same
    clock slot on earlier days), and one drifted window per device."""
    rng = np.random.default_rng(seed)
    table = device_table(devices, seed)
    baseline = windows(table, rng.integers(0, devices, baseline_rows), rng, drifted=False)
    current = windows(table, np.arange(devices), rng, drifted=True)
    return baseline, current
