"""Weather as a covariate (physics §1): condensing, current and run time follow the outdoor
temperature, so a baseline model judges them against the ambient of the same hours.

Django-free. Three pieces the baseline detectors share:

- `ambient_slopes`: per cohort, each feature's change per kelvin of ambient, learned from
  the variation within each device (device means removed, so devices in warmer places do
  not pass for a slope);
- `residualise`: subtract what the ambient explains; the ambient features themselves are
  covariates and stay as they are;
- `unusual_weather`: where the ambient is outside a device's own experience, the condensing
  side answers the weather, not a fault, past what a straight line explains (a unit at its
  capacity limit runs flat out): those z become 0 and the caller caps the severity;
- `ambient_relative`: the residuals, with the ambient itself held constant, for a model
  with no covariates of its own (an Isolation Forest would otherwise isolate a hot-climate
  device's every afternoon, or split on the weather itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scoring.features import RECENT_AMBIENT, RECENT_HOURS
from scoring.model_input import cohort_keys

AMBIENT = "temp_ambient_mean"
COVARIATE_PREFIX = "temp_ambient"
# What the outdoor temperature drives: the condensing side and how much the compressor runs.
WEATHER_DRIVEN_PREFIXES = (
    "temp_condenser",
    "pressure_high",
    "temp_discharge",
    "current_compressor",
    "subcooling",
    "condenser_approach",
    "duty_cycle",
    "compressor_starts",
    "pressure_ratio",
    "temp_spread_evap_cond",
    "temp_spread_discharge_suction",
    "current_per_temp_spread",
)


def _recent(name: str) -> bool:
    return name.endswith(f"_{RECENT_HOURS}h")


def covariate_of(names: Sequence[str]) -> np.ndarray:
    """Per feature, the column of the ambient it is judged against (-1: none, or it is a
    covariate itself): its last 6 hours' ambient for a `_6h` view, else the window's."""
    index = {name: i for i, name in enumerate(names)}
    out = np.full(len(names), -1, dtype=int)
    for i, name in enumerate(names):
        if name.startswith(COVARIATE_PREFIX):
            continue
        if _recent(name) and RECENT_AMBIENT in index:
            out[i] = index[RECENT_AMBIENT]
        elif AMBIENT in index:
            out[i] = index[AMBIENT]
    return out


def _covariates(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Per row and feature, the ambient value it is judged against (0 where none)."""
    columns = covariate_of(names)
    padded = np.concatenate([np.nan_to_num(values), np.zeros((len(values), 1))], axis=1)
    return padded[:, np.where(columns < 0, values.shape[1], columns)]


def ambient_slopes(
    frame: pd.DataFrame, values: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per cohort ('' for the fleet), each feature's change per kelvin of its ambient."""
    ambient = _covariates(values, names)
    devices = frame["device_id"].astype(str).to_numpy()
    x = np.nan_to_num(pd.DataFrame(values).groupby(devices).transform(_centred).to_numpy())
    a = np.nan_to_num(pd.DataFrame(ambient).groupby(devices).transform(_centred).to_numpy())
    keys = cohort_keys(frame["cohort_id"])
    judged = covariate_of(names) >= 0

    def slope(rows: np.ndarray) -> np.ndarray:
        spread = (a[rows] ** 2).sum(axis=0)
        covariance = (x[rows] * a[rows]).sum(axis=0)
        # No ambient variation to learn from: nothing is explained by it.
        found = np.where(spread > 1e-6, covariance / np.maximum(spread, 1e-6), 0.0)
        return np.where(judged, found, 0.0)

    slopes = {"": slope(np.ones(len(values), dtype=bool))}
    for cohort in pd.unique(keys[pd.notna(keys)]):
        slopes[str(cohort)] = slope(keys == cohort)
    return slopes


def _centred(column: pd.Series) -> pd.Series:
    return column - column.mean()


def residualise(
    frame: pd.DataFrame,
    values: np.ndarray,
    names: Sequence[str],
    slopes: dict[str, np.ndarray],
) -> np.ndarray:
    """Subtract what each row's ambient explains, with its cohort's slopes (else the
    fleet's)."""
    keys = cohort_keys(frame["cohort_id"])
    per_row = np.tile(slopes[""], (len(values), 1))
    for cohort, slope in slopes.items():
        if cohort:
            per_row[keys == cohort] = slope
    return values - per_row * _covariates(values, names)


def unusual_weather(z: np.ndarray, names: Sequence[str], *, guard: float) -> np.ndarray:
    """Per row: whether a view's ambient is beyond `guard` sigma of the device's own.

    In place, on a z matrix (signed or not): where it is, the weather-driven features of
    that view become 0; the ambient features themselves are never judged (0 always).
    """
    index = {name: i for i, name in enumerate(names)}
    recent = np.array([_recent(n) for n in names])
    driven = np.array([n.startswith(WEATHER_DRIVEN_PREFIXES) for n in names])
    odd = np.zeros(len(z), dtype=bool)
    for ambient, view in ((AMBIENT, ~recent), (RECENT_AMBIENT, recent)):
        if ambient not in index:
            continue
        hot = np.abs(z[:, index[ambient]]) > guard
        z[np.ix_(hot, driven & view)] = 0.0
        odd |= hot
    z[:, [i for i, n in enumerate(names) if n.startswith(COVARIATE_PREFIX)]] = 0.0
    return odd


def ambient_relative(
    frame: pd.DataFrame,
    values: np.ndarray,
    names: Sequence[str],
    slopes: dict[str, np.ndarray],
) -> np.ndarray:
    """`residualise`, with the ambient features set to 0: the weather is no fault, and a
    constant column is never split on."""
    if "cohort_id" not in frame:
        frame = frame.assign(cohort_id=None)
    out = residualise(frame, values, names, slopes)
    out[:, [i for i, n in enumerate(names) if n.startswith(COVARIATE_PREFIX)]] = 0.0
    return out
