"""The C3 feature set (domain §2.3, §10.2): names, windows, and how each is aggregated.

Django-free. `scoring.feature_sql` turns these specs into one SQL statement; detectors use
the name lists. Naming rule: `{sensor_short}_{aggregation}`.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_MINUTES = (15, 60, 1440)


@dataclass(frozen=True)
class Aggregate:
    name: str
    sensor: str  # column of clean_sensor_readings
    how: str  # mean | std | min | max | slope | p95 | fraction


def _aggs(short: str, sensor: str, hows: str) -> list[Aggregate]:
    return [Aggregate(f"{short}_{how}", sensor, how) for how in hows.split()]


AGGREGATES: tuple[Aggregate, ...] = tuple(
    _aggs("temp_evaporator", "temperature_evaporator", "mean std min max slope")
    + _aggs("temp_condenser", "temperature_condenser", "mean std min max slope")
    + _aggs("temp_ambient", "temperature_ambient", "mean std")
    + _aggs("temp_discharge", "temperature_discharge", "mean std max")
    + _aggs("temp_suction", "temperature_suction", "mean std")
    + _aggs("pressure_high", "pressure_high_side", "mean std max")
    + _aggs("pressure_low", "pressure_low_side", "mean std min")
    + _aggs("current_compressor", "current_compressor", "mean std max")
    + _aggs("vibration_compressor", "vibration_compressor", "mean std max p95")
    + _aggs("humidity", "humidity", "mean std")
    + [
        Aggregate("door_open_fraction", "door_open_close", "fraction"),
        # The deliberate exception to the naming rule (domain §2.3).
        Aggregate("defrost_active_fraction", "defrost_cycle", "fraction"),
    ]
    + _aggs("superheat", "superheat", "mean std")
    + _aggs("subcooling", "subcooling", "mean std")
)

# Cross-sensor features: ratios are null when the denominator is <= 0 or null (§10.3).
DERIVED: tuple[str, ...] = (
    "pressure_ratio",  # pressure_high_mean / pressure_low_mean
    "temp_spread_evap_cond",  # temp_condenser_mean - temp_evaporator_mean
    "temp_spread_discharge_suction",  # temp_discharge_mean - temp_suction_mean
    "current_per_temp_spread",  # current_compressor_mean / temp_spread_evap_cond
)

QUALITY: tuple[str, ...] = ("reading_count", "sensor_completeness", "quality_flag_count")

FEATURE_NAMES: tuple[str, ...] = (
    tuple(a.name for a in AGGREGATES) + DERIVED + ("sensor_completeness", "quality_flag_count")
)


@dataclass(frozen=True)
class Running:
    """The median of the readings taken while the compressor runs steadily (physics §1); a
    median, so one wild reading (a glitch) does not move it."""

    name: str
    expression: str  # over clean_sensor_readings columns


# Operating-state features (physics §1, §4). A 15-minute window holds about one compressor
# cycle, so plain means move with where in the cycle it falls; what the system does while
# it runs steadily (compressor on for 3 minutes or more, no defrost in the last 30) and how
# much it runs do not, and that is where slow faults show: a leak lowers the low side and
# raises superheat, fouling widens the condenser approach, icing chills the coil, a worn
# bearing shakes, a bad gasket makes the compressor run longer and start more often.
RUNNING: tuple[Running, ...] = (
    Running("temp_evaporator_running_median", "temperature_evaporator"),
    Running("pressure_low_running_median", "pressure_low_side"),
    Running("temp_suction_running_median", "temperature_suction"),
    Running("superheat_running_median", "superheat"),
    Running("subcooling_running_median", "subcooling"),
    Running("temp_discharge_running_median", "temperature_discharge"),
    Running("current_compressor_running_median", "current_compressor"),
    Running("pressure_high_running_median", "pressure_high_side"),
    Running("condenser_approach_running_median", "temperature_condenser - temperature_ambient"),
    Running("vibration_compressor_running_median", "vibration_compressor"),
)
DUTY: tuple[str, ...] = ("duty_cycle", "compressor_starts_per_hour")
# Over the last 6 hours of a trailing day window: a fault shows there hours before it moves
# a day's mean (physics §4: compare the last 6-24 h with the device's own previous days).
RECENT_HOURS = 6
RECENT: tuple[str, ...] = tuple(
    f"{name}_{RECENT_HOURS}h" for name in (*DUTY, *(r.name for r in RUNNING))
)
# The outdoor side drives condensing, run time and current (physics §1): a trailing day's
# models judge them against the ambient of the same hours, so a hot afternoon is no fault.
RECENT_AMBIENT = f"temp_ambient_mean_{RECENT_HOURS}h"
OPERATING_FEATURES: tuple[str, ...] = (*DUTY, *(r.name for r in RUNNING), *RECENT, RECENT_AMBIENT)
# Stored with each window, so trailing windows can weigh the hours they are built from.
STEADY_COUNT = "steady_reading_count"
# What training and scoring read: the C3 set, then the operating-state features.
MODEL_FEATURES: tuple[str, ...] = (*FEATURE_NAMES, *OPERATING_FEATURES)
# The statistical baseline uses the _mean / _std features only (domain §2.5).
STATISTICAL_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n.endswith("_mean") or n.endswith("_std")
)
