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
# The statistical baseline uses the _mean / _std features only (domain §2.5).
STATISTICAL_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n.endswith("_mean") or n.endswith("_std")
)
