"""The trailing-day baseline (`daily_baseline`): each device's last 24 hours, and their last 6,
against its own previous days, scored every hour (physics §4: slow faults are trends).

Django-free. A trailing day holds dozens of compressor cycles, so what the compressor does
(duty cycle, starts per hour) and how the system behaves while it runs steadily (low side,
superheat, subcooling, discharge, condenser approach, coil, current, vibration) is steady
from one day to the next on a healthy device, and a slow fault moves it within hours. Each
device is compared with its own trailing days, its cohort standing in until it has
`min_device_windows` of them (two days of hourly windows by default).

Severity grows with evidence, through the score (decision D3 maps it):
- one quantity past `z_at_threshold` sigma: flagged, at most 0.85 (MEDIUM);
- two quantities of one fault signature moved its way by `consistent_z` sigma
  (scoring.detectors.signatures): flagged at 0.86-0.95, so a second such hour in a row
  makes it HIGH (D3: above 0.85 in the previous window). Never above 0.95: a slow fault
  is not CRITICAL; the streaming rules take over when it turns acute.
Contributor scores are signed z, so the alert says which way each quantity moved.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from scoring.detectors.signatures import consistent_mask, quantity
from scoring.detectors.statistical import MODE_COLUMN, StatisticalBaselineDetector
from scoring.features import DUTY, RECENT, RECENT_AMBIENT, RECENT_HOURS, RUNNING
from scoring.model_input import cohort_keys

# The ambient of each view: a covariate, read to explain the others, never judged itself.
AMBIENT_24H, AMBIENT_6H = "temp_ambient_mean", RECENT_AMBIENT
TREND_FEATURES: tuple[str, ...] = (
    *DUTY,
    *(r.name for r in RUNNING),
    *RECENT,
    "humidity_mean",
    "door_open_fraction",
    MODE_COLUMN,
    AMBIENT_24H,
    AMBIENT_6H,
)
# What the outdoor temperature drives (physics §1): the condensing side and run time.
WEATHER_DRIVEN = frozenset(
    {
        "condenser_approach_running_median",
        "pressure_high_running_median",
        "temp_discharge_running_median",
        "current_compressor_running_median",
        "subcooling_running_median",
        "duty_cycle",
        "compressor_starts_per_hour",
    }
)
MEDIUM_CAP = 0.85
CONSISTENT_FLOOR, CONSISTENT_CAP = 0.86, 0.95


class DailyBaselineDetector(StatisticalBaselineDetector):
    """Signed per-device z over the operating features of trailing days."""

    kind: ClassVar[str] = "daily_baseline"
    window_minutes: ClassVar[int] = 1440
    signed_contributors: ClassVar[bool] = True
    dedup_by_contributor: ClassVar[bool] = False
    default_features: ClassVar[tuple[str, ...]] = TREND_FEATURES
    default_params: ClassVar[dict[str, Any]] = {
        **StatisticalBaselineDetector.default_params,
        # Hourly trailing days overlap, so two days of them (48) is what two days give.
        "min_device_windows": 48,
        "min_cohort_windows": 48,
        "std_prior_windows": 48,
        "z_at_threshold": 5.0,
        "consistent_z": 3.5,
        "unusual_ambient_z": 3.0,
        # Spreads below this share of the mean are measurement resolution, not stability.
        "relative_std_floor": 0.01,
    }

    _slopes: dict[str, np.ndarray] | None = None
    _scale: np.ndarray | None = None

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Learn how each quantity follows ambient (per cohort), then the baselines of what
        ambient does not explain."""
        self._slopes = _ambient_slopes(frame, values, self.feature_names)
        # Each feature's typical size, for the resolution floor of its spread.
        self._scale = np.nan_to_num(np.nanmean(np.abs(values), axis=0))
        super()._fit(frame, values)

    def _prepared(self, frame: pd.DataFrame, values: np.ndarray) -> np.ndarray:
        """Subtract what the ambient of the same hours explains (physics §1: condensing,
        current and run time follow the outdoor temperature); covariates become 0."""
        assert self._slopes is not None
        names = list(self.feature_names)
        keys = cohort_keys(frame["cohort_id"])
        slopes = np.tile(self._slopes[""], (len(values), 1))
        for cohort, slope in self._slopes.items():
            if cohort:
                slopes[keys == cohort] = slope
        ambient = _covariate_matrix(values, names)
        covariates = [names.index(AMBIENT_24H), names.index(AMBIENT_6H)]
        # The ambient views stay as they are: their own baselines say when weather is unusual.
        slopes[:, covariates] = 0.0
        return values - slopes * np.nan_to_num(ambient)

    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return max |z|, the evidence-graded score, the flag and the signed z matrix."""
        values = self._prepared(frame, values)
        mean, std = self._expected(frame, len(values))
        assert self._scale is not None
        floor = np.maximum(0.05, float(self.params["relative_std_floor"]) * self._scale)
        with np.errstate(invalid="ignore", over="ignore"):
            z = np.nan_to_num((values - mean) / np.fmax(std, floor), nan=0.0)
        z = np.clip(z, -1e9, 1e9)
        unusual = self._unusual_weather(z)
        raw = np.abs(z).max(axis=1) if z.size else np.zeros(len(values))
        base = -np.expm1(-((raw / self.scale) ** 2))
        fits = consistent_mask(z, self.feature_names, at_least=float(self.params["consistent_z"]))
        score = np.where(
            fits, np.clip(base, CONSISTENT_FLOOR, CONSISTENT_CAP), np.minimum(base, MEDIUM_CAP)
        )
        # Weather outside the device's experience: say so, but never page for it.
        score = np.where(unusual, np.minimum(score, MEDIUM_CAP), score)
        return raw, score, fits | (base > self.threshold), z

    def _unusual_weather(self, z: np.ndarray) -> np.ndarray:
        """Per row: whether either view's ambient is outside the device's own range. Where it
        is, the condensing side (approach, high side, discharge, current, run time, starts,
        subcooling) answers the weather, not a fault, past what a straight line explains
        (a unit at its capacity limit runs flat out): their z in that view become 0, and
        the ambient views themselves are never judged."""
        names = list(self.feature_names)
        guard = float(self.params["unusual_ambient_z"])
        six = np.array([n.endswith(f"_{RECENT_HOURS}h") for n in names])
        weather = np.array([quantity(n) in WEATHER_DRIVEN for n in names])
        day_odd = np.abs(z[:, names.index(AMBIENT_24H)]) > guard
        recent_odd = np.abs(z[:, names.index(AMBIENT_6H)]) > guard
        z[np.ix_(day_odd, weather & ~six)] = 0.0
        z[np.ix_(recent_odd, weather & six)] = 0.0
        z[:, [names.index(AMBIENT_24H), names.index(AMBIENT_6H)]] = 0.0
        return day_odd | recent_odd

    def _contributors(self, z: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        """Rank by |z| but report signed z: which way each quantity moved."""
        if z.shape[0] == 0:
            return [], []
        k = min(5, z.shape[1])
        order = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :k]
        names = np.asarray(self.feature_names, dtype=object)
        return names[order].tolist(), np.take_along_axis(z, order, axis=1).tolist()


def _covariate_matrix(values: np.ndarray, names: list[str]) -> np.ndarray:
    """Per row and feature, the ambient of the feature's own view (its last 6 h or 24 h)."""
    day, recent = values[:, names.index(AMBIENT_24H)], values[:, names.index(AMBIENT_6H)]
    six = np.array([n.endswith(f"_{RECENT_HOURS}h") for n in names])
    return np.where(six[None, :], recent[:, None], day[:, None])


def _ambient_slopes(
    frame: pd.DataFrame, values: np.ndarray, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Per cohort ('' for the fleet), each feature's change per kelvin of ambient, from the
    variation within each device (device means removed, so devices in warmer places do
    not pass for a slope)."""
    ambient = _covariate_matrix(values, list(names))
    devices = frame["device_id"].astype(str).to_numpy()
    x = pd.DataFrame(values).groupby(devices).transform(lambda c: c - c.mean()).to_numpy()
    a = pd.DataFrame(ambient).groupby(devices).transform(lambda c: c - c.mean()).to_numpy()
    x, a = np.nan_to_num(x), np.nan_to_num(a)
    keys = cohort_keys(frame["cohort_id"])

    def slope(rows: np.ndarray) -> np.ndarray:
        spread = (a[rows] ** 2).sum(axis=0)
        # No ambient variation to learn from: nothing is explained by it.
        return np.where(
            spread > 1e-6, (x[rows] * a[rows]).sum(axis=0) / np.maximum(spread, 1e-6), 0.0
        )

    slopes = {"": slope(np.ones(len(values), dtype=bool))}
    for cohort in pd.unique(keys[pd.notna(keys)]):
        slopes[str(cohort)] = slope(keys == cohort)
    return slopes
