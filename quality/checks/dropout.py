"""Sensor dropout (domain §3.2, decision D12) as a pure function of per-device activity."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The values of fleetmon.registry.models.DropoutState (kept as strings: this module is Django-free).
FULL_DROPOUT = "FULL_DROPOUT"
FREQUENCY_DEGRADATION = "FREQUENCY_DEGRADATION"
SENSOR_SUBSET_DROPOUT = "SENSOR_SUBSET_DROPOUT"
HEALTHY = "HEALTHY"


@dataclass(frozen=True)
class DropoutThresholds:
    min_readings_per_hour: int = 30  # expected ~60
    max_mean_null_sensors: float = 4.0


def classify_dropout(activity: pd.DataFrame, limits: DropoutThresholds) -> pd.Series:
    """Dropout state per device from its last hour: `readings_1h` and `mean_nulls_1h`.

    No readings -> FULL_DROPOUT; fewer than the minimum -> FREQUENCY_DEGRADATION; more
    null sensors on average than the maximum -> SENSOR_SUBSET_DROPOUT; else HEALTHY.
    """
    readings = activity["readings_1h"].fillna(0).to_numpy()
    nulls = activity["mean_nulls_1h"].fillna(0).to_numpy()
    state = np.select(
        [
            readings == 0,
            readings < limits.min_readings_per_hour,
            nulls > limits.max_mean_null_sensors,
        ],
        [
            FULL_DROPOUT,
            FREQUENCY_DEGRADATION,
            SENSOR_SUBSET_DROPOUT,
        ],
        default=HEALTHY,
    )
    return pd.Series(state, index=activity.index, name="dropout_state")
