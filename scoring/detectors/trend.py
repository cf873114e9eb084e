"""The trailing-day baseline (`daily_baseline`): each device's last 24 hours, and their last 6,
against its own previous days, scored every hour (physics §4: slow faults are trends).

Django-free. A trailing day holds dozens of compressor cycles, so what the compressor does
(duty cycle, starts per hour) and how the system behaves while it runs steadily (low side,
superheat, subcooling, discharge, condenser approach, coil, current, vibration) is steady
from one day to the next on a healthy device, and a slow fault moves it within hours. Each
device is compared with its own trailing days, its cohort standing in until it has
`min_device_windows` of them (two days of hourly windows by default).

Each quantity is judged on what the ambient of the same hours does not explain
(scoring.detectors.weather: condensing, current and run time follow the outdoor
temperature; weather beyond the device's experience caps the alert at MEDIUM).
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

from scoring.detectors import weather
from scoring.detectors.signatures import consistent_mask
from scoring.detectors.statistical import MEDIUM_CAP, MODE_COLUMN, StatisticalBaselineDetector
from scoring.features import DUTY, RECENT, RECENT_AMBIENT, RUNNING

TREND_FEATURES: tuple[str, ...] = (
    *DUTY,
    *(r.name for r in RUNNING),
    *RECENT,
    "humidity_mean",
    "door_open_fraction",
    MODE_COLUMN,
    # Covariates: the ambient of each view (scoring.detectors.weather), never judged.
    weather.AMBIENT,
    RECENT_AMBIENT,
)
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
        # Spreads below this share of the mean are measurement resolution, not stability.
        "relative_std_floor": 0.01,
    }

    _scale: np.ndarray | None = None

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Remember each feature's typical size, then fit the baselines."""
        # For the resolution floor of each spread: baselines are kept on ambient residuals.
        self._scale = np.nan_to_num(np.nanmean(np.abs(values), axis=0))
        super()._fit(frame, values)

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

    def _contributors(self, z: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        """Rank by |z| but report signed z: which way each quantity moved."""
        if z.shape[0] == 0:
            return [], []
        k = min(5, z.shape[1])
        order = np.argsort(-np.abs(z), axis=1, kind="stable")[:, :k]
        names = np.asarray(self.feature_names, dtype=object)
        return names[order].tolist(), np.take_along_axis(z, order, axis=1).tolist()
