"""Statistical baseline (domain §2.5, §4.3): per-device z-scores on the _mean/_std features.

Django-free. Each device is compared with its own training windows when it has at least
`min_device_windows` of them, otherwise with its cohort's, otherwise with the fleet's. The
score is a fixed monotone map of the largest |z|: 1 - exp(-(max|z| / k)^2), with k chosen so
that |z| = `z_at_threshold` (4.5 by default; see default_params) lands on the threshold.

Baselines are kept per operating mode ([TRAIN]: stratify so that defrost is not learned as
anomalous): a window with any defrost activity is compared with defrost windows, the others
with normal ones. A device's std is shrunk towards its cohort's (`std_prior_windows` pseudo
windows), because a few dozen windows give noisy spreads and the max over 24 features
magnifies every underestimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from scoring.detectors import weather
from scoring.detectors.base import Detector, z_scores
from scoring.features import STATISTICAL_FEATURES
from scoring.model_input import cohort_keys


@dataclass
class _Baselines:
    """Mean and std rows for a set of keys (devices or cohorts)."""

    index: pd.Index
    mean: np.ndarray
    std: np.ndarray

    count: np.ndarray

    @classmethod
    def from_groups(cls, values: pd.DataFrame, keys: pd.Series, min_rows: int) -> _Baselines:
        """Return baselines of each key with at least `min_rows` rows."""
        grouped = values.groupby(keys.to_numpy(), sort=True)
        counts = grouped.size()
        keep = counts.index[counts >= min_rows]
        # ddof=1: a device baseline rests on as few as 8 windows, where ddof=0 would
        # understate the spread and inflate every z.
        mean = grouped.mean().loc[keep]
        std = grouped.std(ddof=1).loc[keep]
        # Copies: pandas' copy-on-write hands out read-only arrays, and shrink_std writes.
        return cls(
            pd.Index(keep, dtype=object),
            mean.to_numpy(copy=True),
            std.to_numpy(copy=True),
            counts.loc[keep].to_numpy(dtype="float64"),
        )

    def shrink_std(self, groups: np.ndarray, weight: float) -> None:
        """Pull each std towards the typical within-key std of its group (e.g. its cohort),
        as if that were `weight` more windows. The prior is the mean variance of the group's
        keys, not the group's own spread, which would add the differences between devices."""
        variance = pd.DataFrame(self.std**2).groupby(groups).transform("mean").to_numpy()
        n = self.count[:, None]
        self.std = np.sqrt((n * self.std**2 + weight * variance) / (n + weight))

    def fill(self, keys: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        """Overwrite rows of `mean`/`std` whose key has a baseline."""
        positions = self.index.get_indexer(keys)
        found = positions >= 0
        mean[found] = self.mean[positions[found]]
        std[found] = self.std[positions[found]]


MODE_COLUMN = "defrost_active_fraction"
# Just below D3's HIGH cut-off: evidence that may not page anyone (unusual weather, one
# quantity of a trend alone) is capped here.
MEDIUM_CAP = 0.85


def _modes(frame: pd.DataFrame) -> np.ndarray:
    """'defrost' for windows with any defrost activity, else 'normal' (also when unknown)."""
    if MODE_COLUMN not in frame:
        return np.full(len(frame), "normal", dtype=object)
    return np.where(frame[MODE_COLUMN].fillna(0).to_numpy() > 0, "defrost", "normal")


def _keyed(keys, modes: np.ndarray) -> np.ndarray:
    return np.array([f"{k}|{m}" for k, m in zip(keys, modes, strict=True)], dtype=object)


class StatisticalBaselineDetector(Detector):
    """Largest per-device |z| over the _mean/_std features, mapped to [0, 1]."""

    kind: ClassVar[str] = "statistical_baseline"
    default_threshold: ClassVar[float] = 0.7
    # The defrost fraction both picks the mode and is compared within it (a long defrost).
    default_features: ClassVar[tuple[str, ...]] = (*STATISTICAL_FEATURES, MODE_COLUMN)
    default_params: ClassVar[dict[str, Any]] = {
        "min_device_windows": 8,
        "min_cohort_windows": 8,
        # |z| > 3 is a strong signal for one feature (§10.3), but the score is the max over
        # 25 of them, re-taken every run. Measured on the simulated fleet outside defrost:
        # 4 sigma flagged 3 % of healthy windows, 4.5 sigma 0.9 %, 5 sigma 0.4 % (below the
        # 0.5 % [TRAIN] floor). With the alarm delay of score-to-alert, 4.5 keeps false
        # alerts under 5 % of devices a day (tests/scoring/test_fleet_detection.py).
        "z_at_threshold": 4.5,
        "std_prior_windows": 20,
        # Judge the condensing side against the ambient of the same window (weather.py).
        "ambient_adjusted": True,
        "unusual_ambient_z": 3.0,
    }
    required_columns: ClassVar[tuple[str, ...]] = ("device_id", "cohort_id")

    _devices: _Baselines | None = None
    _cohorts: _Baselines | None = None
    _fleet: _Baselines | None = None
    _fleet_mean: np.ndarray | None = None
    _fleet_std: np.ndarray | None = None
    # Per cohort, each feature's slope on ambient (None: not adjusted, e.g. an old artifact).
    _slopes: dict[str, np.ndarray] | None = None

    @property
    def scale(self) -> float:
        """Return k of 1 - exp(-(z/k)^2), so that z_at_threshold maps onto the threshold."""
        return float(self.params["z_at_threshold"]) / np.sqrt(-np.log1p(-self.threshold))

    def _validate_config(self) -> None:
        """Check threshold and the window minimums."""
        super()._validate_config()
        if int(self.params["min_device_windows"]) < 2 or int(self.params["min_cohort_windows"]) < 2:
            raise ValueError("min_device_windows and min_cohort_windows must be >= 2 (a std)")
        if not float(self.params["z_at_threshold"]) > 0:
            raise ValueError(f"z_at_threshold must be > 0, got {self.params['z_at_threshold']}")

    def _log_spreads(self, values: np.ndarray) -> np.ndarray:
        """log1p of the _std features: within-window spreads are right-skewed (a chi-like
        distribution), and z on the raw spread flags every bumpy but healthy window."""
        out = values.copy()
        columns = [i for i, n in enumerate(self.feature_names) if n.endswith("_std")]
        out[:, columns] = np.log1p(np.clip(out[:, columns], 0, None))
        return out

    def _prepared(self, frame: pd.DataFrame, values: np.ndarray) -> np.ndarray:
        """Return the values the baselines are kept on: spreads on a log scale, and what
        the ambient explains taken out."""
        values = self._log_spreads(values)
        if self._slopes is None:
            return values
        return weather.residualise(frame, values, self.feature_names, self._slopes)

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Learn the ambient slopes, then device, cohort and fleet baselines (mean, std) per
        feature and mode."""
        if self.params["ambient_adjusted"]:
            spread = self._log_spreads(values)
            self._slopes = weather.ambient_slopes(frame, spread, self.feature_names)
        values = self._prepared(frame, values)
        table = pd.DataFrame(values, columns=list(self.feature_names))
        modes = _modes(frame)
        devices = pd.Series(_keyed(frame["device_id"].astype(str), modes), dtype=object)
        cohort_ids = cohort_keys(frame["cohort_id"])
        cohorts = pd.Series(_keyed(cohort_ids, modes), dtype=object)
        known = pd.notna(cohort_ids)
        self._fleet = _Baselines.from_groups(table, pd.Series(modes, dtype=object), 2)
        self._cohorts = _Baselines.from_groups(
            table[known], cohorts[known], int(self.params["min_cohort_windows"])
        )
        self._devices = _Baselines.from_groups(
            table, devices, int(self.params["min_device_windows"])
        )
        device_cohort = dict(zip(devices, cohorts, strict=True))
        self._devices.shrink_std(
            np.array([device_cohort[k] for k in self._devices.index], dtype=object),
            float(self.params["std_prior_windows"]),
        )
        self._fleet_mean = values.mean(axis=0)
        # A single training row has no spread; the std floor in z_scores takes over.
        self._fleet_std = (
            values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(len(values[0]))
        )

    def _expected(self, frame: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return each row's baseline (mean, std) per feature: its device's own, else its
        cohort's, else the fleet's, for the row's operating mode."""
        assert self._devices is not None and self._cohorts is not None
        modes = _modes(frame)
        mean = np.tile(self._fleet_mean, (n, 1))
        std = np.tile(self._fleet_std, (n, 1))
        # Most specific last: device overrides cohort, which overrides fleet.
        self._fleet.fill(modes.astype(object), mean, std)
        self._cohorts.fill(_keyed(cohort_keys(frame["cohort_id"]), modes), mean, std)
        self._devices.fill(_keyed(frame["device_id"].astype(str), modes), mean, std)
        return mean, std

    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return max |z| over features, its calibrated score, the flag and the |z| matrix."""
        values = self._prepared(frame, values)
        mean, std = self._expected(frame, len(values))
        z = z_scores(values, mean, std)
        unusual = self._unusual_weather(z)
        raw = z.max(axis=1) if z.size else np.zeros(len(values))
        score = -np.expm1(-((raw / self.scale) ** 2))
        # Weather outside the device's experience: say so, but never page for it.
        score = np.where(unusual, np.minimum(score, MEDIUM_CAP), score)
        return raw, score, score > self.threshold, z

    def _unusual_weather(self, z: np.ndarray) -> np.ndarray:
        """Rows whose ambient is unusual for the device (weather.unusual_weather, in place)."""
        if self._slopes is None:
            return np.zeros(len(z), dtype=bool)
        guard = float(self.params["unusual_ambient_z"])
        return weather.unusual_weather(z, self.feature_names, guard=guard)
