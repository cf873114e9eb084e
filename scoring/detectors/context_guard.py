"""The forests' context guard (physics §1): weather and the door explain a window, not a fault.

Django-free. An Isolation Forest has no covariate: a window lies apart from the training
windows whatever the reason. Two harmless reasons are common and physical:

- ambient beyond what the device has seen (a heat wave): condensing temperature and
  pressure, discharge, current and run time all rise with it;
- the door open far longer than the device's usual (restocking, a delivery burst): the box
  and coil warm, humidity rises and the compressor runs on, while the compressor is healthy.

The guard learns, per device (its cohort, then the fleet, standing in for a device with
too few windows), the mean and spread of each context feature over the training windows.
A window whose context is beyond `guard` sigma of that (the door: above only; a closed
door is nothing unusual) is capped just below HIGH: the forest says so, but does not page.
A slow fault keeps showing once the context is usual again, and the acute door left open
is the streaming rule's (D10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.detectors.base import std_floor
from scoring.model_input import cohort_keys

# Context feature -> whether only a rise is unusual.
CONTEXT: dict[str, bool] = {"temp_ambient_mean": False, "door_open_fraction": True}


@dataclass(frozen=True)
class _Table:
    """Mean and std of the context columns per key."""

    index: pd.Index
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, values: pd.DataFrame, keys: np.ndarray, min_rows: int) -> _Table:
        grouped = values.groupby(keys, sort=True)
        counts = grouped.size()
        keep = counts.index[counts >= min_rows]
        return cls(
            pd.Index(keep, dtype=object),
            grouped.mean().loc[keep].to_numpy(copy=True),
            grouped.std(ddof=1).loc[keep].to_numpy(copy=True),
        )

    def fill(self, keys: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        positions = self.index.get_indexer(keys)
        found = positions >= 0
        mean[found] = self.mean[positions[found]]
        std[found] = self.std[positions[found]]


@dataclass(frozen=True)
class ContextGuard:
    """Per device, cohort and fleet: how usual each context feature is."""

    columns: tuple[str, ...]
    devices: _Table
    cohorts: _Table
    fleet_mean: np.ndarray
    fleet_std: np.ndarray

    @classmethod
    def fit(cls, frame: pd.DataFrame, *, min_windows: int) -> ContextGuard | None:
        """Learn the context of the training windows; None when the frame has none."""
        columns = tuple(c for c in CONTEXT if c in frame)
        if not columns or "device_id" not in frame:
            return None
        values = frame[list(columns)].astype("float64")
        cohorts = cohort_keys(frame["cohort_id"]) if "cohort_id" in frame else None
        known = pd.notna(cohorts) if cohorts is not None else np.zeros(len(frame), dtype=bool)
        return cls(
            columns,
            _Table.of(values, frame["device_id"].astype(str).to_numpy(), min_windows),
            _Table.of(values[known], np.asarray(cohorts)[known], min_windows),
            values.mean().to_numpy(),
            values.std(ddof=1).fillna(0.0).to_numpy(),
        )

    def unusual(self, frame: pd.DataFrame, *, guard: float) -> np.ndarray:
        """Per row: whether its context is beyond `guard` sigma of its device's usual."""
        if not all(c in frame for c in self.columns):
            return np.zeros(len(frame), dtype=bool)
        n = len(frame)
        mean, std = np.tile(self.fleet_mean, (n, 1)), np.tile(self.fleet_std, (n, 1))
        if "cohort_id" in frame:
            self.cohorts.fill(cohort_keys(frame["cohort_id"]), mean, std)
        # Most specific last: the device's own history wins.
        self.devices.fill(frame["device_id"].astype(str).to_numpy(), mean, std)
        values = frame[list(self.columns)].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            z = np.nan_to_num((values - mean) / std_floor(mean, std), nan=0.0)
        rise_only = np.array([CONTEXT[c] for c in self.columns])
        z = np.where(rise_only, z, np.abs(z))
        return (z > guard).any(axis=1)
