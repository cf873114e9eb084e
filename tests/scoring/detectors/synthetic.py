"""Seeded synthetic C3 feature windows for detector tests (no simulator, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from scoring.features import (
    AGGREGATES,
    MODEL_FEATURES,
    RECENT,
    RECENT_AMBIENT,
    RUNNING,
)

# Domain §1.1 "normal" baselines: (mean, std) per sensor.
SENSORS: dict[str, tuple[float, float]] = {
    "temperature_evaporator": (-25.0, 3.0),
    "temperature_condenser": (40.0, 5.0),
    "temperature_ambient": (22.0, 4.0),
    "temperature_discharge": (70.0, 8.0),
    "temperature_suction": (-10.0, 3.0),
    "pressure_high_side": (1500.0, 150.0),
    "pressure_low_side": (200.0, 30.0),
    "current_compressor": (12.0, 2.0),
    "vibration_compressor": (3.0, 0.8),
    "humidity": (45.0, 10.0),
    "superheat": (8.0, 2.0),
    "subcooling": (5.0, 1.5),
}
# Equipment differences (domain §10.3): walk-in freezer vs display case.
COHORTS: dict[str, dict[str, float]] = {
    "walk_in": {"temperature_evaporator": -20.0, "current_compressor": 15.0},
    "display": {"temperature_evaporator": -5.0, "current_compressor": 6.0},
}
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def feature_frame(
    n_devices: int = 20,
    n_windows: int = 20,
    *,
    seed: int = 42,
    cohorts: tuple[str, ...] = ("walk_in",),
    device_prefix: str = "REF-TEST-",
) -> pd.DataFrame:
    """Return n_devices x n_windows feature rows, devices spread round-robin over cohorts."""
    rng = np.random.default_rng(seed)
    n = n_devices * n_windows
    device_idx = np.repeat(np.arange(n_devices), n_windows)
    window_idx = np.tile(np.arange(n_windows), n_devices)
    cohort_of_device = np.array([cohorts[i % len(cohorts)] for i in range(n_devices)])
    means: dict[str, np.ndarray] = {}
    for sensor, (mu, sd) in SENSORS.items():
        cohort_mu = np.array([COHORTS.get(c, {}).get(sensor, mu) for c in cohort_of_device])
        # Each device's baseline is nudged by 10 % of the std (domain §6 generator).
        device_mu = cohort_mu + 0.1 * sd * rng.standard_normal(n_devices)
        means[sensor] = device_mu[device_idx] + 0.5 * sd * rng.standard_normal(n)
    columns: dict[str, np.ndarray] = {}
    for agg in AGGREGATES:
        if agg.how == "fraction":
            if agg.sensor == "door_open_close":
                columns[agg.name] = rng.beta(1.0, 19.0, n)
            else:  # defrost: most windows have none, about one in eight some
                columns[agg.name] = np.where(rng.random(n) < 0.12, rng.beta(4.0, 4.0, n), 0.0)
            continue
        sd = SENSORS[agg.sensor][1]
        m = means[agg.sensor]
        s = 0.3 * sd * np.exp(0.2 * rng.standard_normal(n))
        columns[agg.name] = {
            "mean": m,
            "std": s,
            "min": m - 2 * s * rng.uniform(0.8, 1.2, n),
            "max": m + 2 * s * rng.uniform(0.8, 1.2, n),
            "slope": 0.02 * rng.standard_normal(n),
            "p95": m + 1.6 * s,
        }[agg.how]
    frame = pd.DataFrame(columns)
    add_derived(frame)
    frame["sensor_completeness"] = np.clip(1 - np.abs(0.02 * rng.standard_normal(n)), 0, 1)
    frame["quality_flag_count"] = rng.poisson(0.3, n).astype("float64")
    frame.insert(0, "device_id", [f"{device_prefix}{i:05d}" for i in device_idx])
    frame.insert(1, "cohort_id", cohort_of_device[device_idx])
    ends = pd.Timestamp(T0) + pd.to_timedelta(15 * (window_idx + 1), "min")
    frame.insert(2, "window_end", ends.astype("datetime64[ns, UTC]"))
    add_operating(frame, rng)
    return frame[["device_id", "cohort_id", "window_end", *MODEL_FEATURES]]


def add_operating(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """The operating-state features, near the plain means they sit beside, in place."""
    n = len(frame)
    frame["duty_cycle"] = np.clip(0.55 + 0.05 * rng.standard_normal(n), 0, 1)
    frame["compressor_starts_per_hour"] = np.clip(3 + 0.5 * rng.standard_normal(n), 0, None)
    sources = {
        "condenser_approach_running_median": frame["temp_condenser_mean"]
        - frame["temp_ambient_mean"],
    }
    for running in RUNNING:
        plain = running.name.replace("_running_median", "_mean")
        source = sources.get(running.name, frame.get(plain))
        frame[running.name] = source + 0.1 * rng.standard_normal(n)
    for recent in RECENT:
        frame[recent] = frame[recent.removesuffix("_6h")] + 0.1 * rng.standard_normal(n)
    frame[RECENT_AMBIENT] = frame["temp_ambient_mean"] + 0.5 * rng.standard_normal(n)


def add_derived(frame: pd.DataFrame) -> None:
    """Recompute the cross-sensor features from the means, in place."""
    frame["pressure_ratio"] = frame["pressure_high_mean"] / frame["pressure_low_mean"]
    frame["temp_spread_evap_cond"] = frame["temp_condenser_mean"] - frame["temp_evaporator_mean"]
    frame["temp_spread_discharge_suction"] = (
        frame["temp_discharge_mean"] - frame["temp_suction_mean"]
    )
    frame["current_per_temp_spread"] = (
        frame["current_compressor_mean"] / frame["temp_spread_evap_cond"]
    )


def vibration_spike(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with the compressor_vibration_spike anomaly: vibration x4, current x1.5."""
    spiked = frame.copy()
    for agg in AGGREGATES:
        if agg.sensor == "vibration_compressor":
            spiked[agg.name] *= 4.0
        elif agg.sensor == "current_compressor":
            spiked[agg.name] *= 1.5
    for name in spiked.columns:
        if name.startswith("vibration_compressor_running"):
            spiked[name] *= 4.0
        elif name.startswith("current_compressor_running"):
            spiked[name] *= 1.5
    add_derived(spiked)
    return spiked


# Domain §1.1 valid ranges (test data; the app's catalogue lives in fleetmon.sensors).
SENSOR_LIMITS: dict[str, tuple[float, float]] = {
    "temperature_evaporator": (-60.0, 30.0),
    "temperature_condenser": (20.0, 80.0),
    "temperature_ambient": (-40.0, 60.0),
    "temperature_discharge": (30.0, 150.0),
    "temperature_suction": (-40.0, 30.0),
    "pressure_high_side": (500.0, 3500.0),
    "pressure_low_side": (50.0, 800.0),
    "current_compressor": (0.0, 50.0),
    "vibration_compressor": (0.0, 100.0),
    "humidity": (0.0, 100.0),
    "superheat": (-5.0, 50.0),
    "subcooling": (-5.0, 30.0),
}


def boundary_frame(cohort_id: str = "walk_in") -> pd.DataFrame:
    """Return two windows with every sensor at the low, then the high, end of its valid range."""
    rows = []
    for end in (0, 1):
        row: dict[str, float] = {}
        for agg in AGGREGATES:
            if agg.how == "fraction":
                row[agg.name] = float(end)
                continue
            low, high = SENSOR_LIMITS[agg.sensor]
            row[agg.name] = {
                "std": (high - low) / 2 * end,
                "slope": (high - low) / 15 * (2 * end - 1),
            }.get(agg.how, (low, high)[end])
        rows.append(row)
    frame = pd.DataFrame(rows)
    add_derived(frame)
    frame["sensor_completeness"] = [0.0, 1.0]
    frame["quality_flag_count"] = [0.0, 15.0]
    frame.insert(0, "device_id", ["REF-TEST-LOW", "REF-TEST-HIGH"])
    frame.insert(1, "cohort_id", cohort_id)
    frame.insert(2, "window_end", pd.Timestamp(T0))
    # Operating features at the ends of their own ranges: run time none and all.
    frame["duty_cycle"] = [0.0, 1.0]
    frame["compressor_starts_per_hour"] = [0.0, 30.0]
    for running in RUNNING:
        base = running.name.replace("_running_median", "_mean")
        frame[running.name] = frame[base] if base in frame else [0.0, 60.0]
    for recent in RECENT:
        frame[recent] = frame[recent.removesuffix("_6h")]
    frame[RECENT_AMBIENT] = frame["temp_ambient_mean"]
    return frame[["device_id", "cohort_id", "window_end", *MODEL_FEATURES]]
