"""Fleet-wide Isolation Forest (domain §4.3, §8) with a score calibrated at fit time.

Django-free. Raw score = -`score_samples` (the paper's anomaly score, larger = more anomalous),
mapped to [0, 1] by a `ScoreCalibration` learned on the training rows, so a row's score does
not depend on the batch it is scored in. Contributors are the 5 features furthest from the
training mean in training standard deviations (§8). A window whose weather or door is far
from its device's usual is capped below HIGH (scoring.detectors.context_guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from scoring.detectors import weather
from scoring.detectors.base import Detector, z_scores
from scoring.detectors.calibration import ScoreCalibration
from scoring.detectors.context_guard import ContextGuard
from scoring.detectors.statistical import MEDIUM_CAP
from scoring.features import FEATURE_NAMES

FOREST_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "contamination": 0.05,
    "random_state": 42,
    "max_samples": "auto",
}
# The context guard (context_guard.py): sigma of the device's own ambient or door-open
# fraction beyond which a window is not paged for (0: off), and the windows a device needs
# before its own history stands for it (else its cohort's, else the fleet's): a day of
# 15-minute windows, since ambient and door use follow the day; a few hours' spread would
# call every afternoon unusual, and two models trained an hour apart would disagree.
GUARD_PARAMS: dict[str, Any] = {"context_guard_z": 3.0, "context_min_windows": 96}
# Judge the condensing side net of what the ambient explains (weather.ambient_relative).
AMBIENT_PARAMS: dict[str, Any] = {"ambient_relative": True}
MIN_SLOPE_HISTORY = pd.Timedelta(hours=23)


@dataclass(frozen=True)
class CalibratedForest:
    """One fitted Isolation Forest with its calibration and training mean/std."""

    forest: IsolationForest
    calibration: ScoreCalibration
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(
        cls, values: np.ndarray, *, params: dict[str, Any], threshold: float, random_state: int
    ) -> CalibratedForest:
        """Fit a forest on `values` and calibrate its raw scores against `threshold`."""
        forest = IsolationForest(
            n_estimators=params["n_estimators"],
            contamination=params["contamination"],
            max_samples=params["max_samples"],
            random_state=random_state,
        ).fit(values)
        span = values.max(axis=0) - values.min(axis=0) + 1.0
        low, high = values.min(axis=0) - span, values.max(axis=0) + span
        calibration = ScoreCalibration.fit(
            _raw_scores(forest, values, low, high),
            contamination=params["contamination"],
            threshold=threshold,
        )
        return cls(forest, calibration, values.mean(axis=0), values.std(axis=0), low, high)

    def raw(self, values: np.ndarray) -> np.ndarray:
        """Return the raw anomaly score (larger = more anomalous) of each row."""
        return _raw_scores(self.forest, values, self.low, self.high)

    def score(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (raw score, calibrated score, contributor z matrix) for each row."""
        if len(values) == 0:
            empty = np.zeros(0)
            return empty, empty, np.zeros((0, values.shape[1]))
        raw = self.raw(values)
        return raw, self.calibration.apply(raw), z_scores(values, self.mean, self.std)


def _raw_scores(
    forest: IsolationForest, values: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Return -score_samples of `values` clipped to [low, high] per feature."""
    # TRICKY: sklearn casts to float32, so 1e300 would overflow and be refused. Every split
    # threshold lies inside the training range, so any value beyond it takes the same path as
    # a value just beyond it: clipping to a margin past the range changes no score.
    return -forest.score_samples(np.clip(values, low, high))


def fit_slopes(
    frame: pd.DataFrame, values: np.ndarray, names, params: dict[str, Any]
) -> dict[str, np.ndarray] | None:
    """Each cohort's ambient slopes, unless the params turn ambient-relative features off
    or the history is shorter than a day: a slope per kelvin needs the day's swing of the
    weather; over a few hours it is mostly noise, and two forests trained an hour apart
    would judge the same windows differently."""
    if not params.get("ambient_relative") or weather.AMBIENT not in names:
        return None
    if "window_end" in frame and len(frame):
        ends = pd.to_datetime(frame["window_end"])
        if ends.max() - ends.min() < MIN_SLOPE_HISTORY:
            return None
    if "cohort_id" not in frame:
        frame = frame.assign(cohort_id=None)
    return weather.ambient_slopes(frame, values, names)


def relative(
    frame: pd.DataFrame, values: np.ndarray, names, slopes: dict[str, np.ndarray] | None
) -> np.ndarray:
    """The values a forest sees: ambient-relative when it learned slopes."""
    if slopes is None or len(values) == 0:
        return values
    return weather.ambient_relative(frame, values, names, slopes)


def fit_guard(frame: pd.DataFrame, params: dict[str, Any]) -> ContextGuard | None:
    """The context guard of the training windows, unless the params turn it off."""
    if not float(params.get("context_guard_z", 0)) > 0:
        return None
    return ContextGuard.fit(frame, min_windows=int(params["context_min_windows"]))


def guarded(
    score: np.ndarray, frame: pd.DataFrame, guard: ContextGuard | None, params: dict[str, Any]
) -> np.ndarray:
    """Cap below HIGH the scores of windows whose context the device has not seen."""
    if guard is None:
        return score
    unusual = guard.unusual(frame, guard=float(params["context_guard_z"]))
    return np.where(unusual, np.minimum(score, MEDIUM_CAP), score)


def validate_forest_params(params: dict[str, Any]) -> None:
    """Raise ValueError for forest params that would break calibration or determinism."""
    if not 0.0 < float(params["contamination"]) < 0.5:
        raise ValueError(f"contamination must be in (0, 0.5), got {params['contamination']}")
    if not isinstance(params["random_state"], int):
        # None would make every fit different; scores must be reproducible (domain §2.6).
        raise ValueError(f"random_state must be an int, got {params['random_state']!r}")
    if int(params["n_estimators"]) < 1:
        raise ValueError(f"n_estimators must be >= 1, got {params['n_estimators']}")


class IsolationForestDetector(Detector):
    """One Isolation Forest over the whole fleet, on all C3 features."""

    kind: ClassVar[str] = "isolation_forest"
    default_threshold: ClassVar[float] = 0.7
    default_features: ClassVar[tuple[str, ...]] = FEATURE_NAMES
    default_params: ClassVar[dict[str, Any]] = {**FOREST_PARAMS, **GUARD_PARAMS, **AMBIENT_PARAMS}

    _forest: CalibratedForest | None = None
    # None: no guard, no slopes (turned off, or an artifact from before them).
    _guard: ContextGuard | None = None
    _slopes: dict[str, np.ndarray] | None = None

    def _validate_config(self) -> None:
        """Check threshold and forest params."""
        super()._validate_config()
        validate_forest_params(self.params)

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Fit the fleet forest and its calibration."""
        self._slopes = fit_slopes(frame, values, self.feature_names, self.params)
        self._forest = CalibratedForest.fit(
            relative(frame, values, self.feature_names, self._slopes),
            params=self.params,
            threshold=self.threshold,
            random_state=self.params["random_state"],
        )
        self._guard = fit_guard(frame, self.params)

    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score rows against the fleet forest."""
        assert self._forest is not None  # guaranteed by Detector.score's fitted check
        raw, score, z = self._forest.score(
            relative(frame, values, self.feature_names, self._slopes)
        )
        score = guarded(score, frame, self._guard, self.params)
        return raw, score, score > self.threshold, z
