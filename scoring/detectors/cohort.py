"""One Isolation Forest per cohort (domain §10.3, [SEL] phase 1b), fleet forest as fallback.

Django-free. A walk-in freezer at -20 °C and a display case at -5 °C are both normal; one
fleet forest would call neither unusual, nor a freezer that drifts up to -5 °C. Each cohort
with at least `min_cohort_rows` training windows gets its own calibrated forest; smaller or
unseen cohorts are scored by a fleet-wide forest trained on every row.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from scoring.detectors.base import Detector
from scoring.detectors.context_guard import ContextGuard
from scoring.detectors.isolation_forest import (
    AMBIENT_PARAMS,
    FOREST_PARAMS,
    GUARD_PARAMS,
    CalibratedForest,
    fit_guard,
    fit_slopes,
    guarded,
    relative,
    validate_forest_params,
)
from scoring.features import FEATURE_NAMES
from scoring.model_input import cohort_keys


def cohort_seed(random_state: int, cohort: str) -> int:
    """Return a random_state for `cohort` that is stable across processes and Python versions."""
    # Not hash(): string hashing is salted per process (PYTHONHASHSEED).
    digest = hashlib.blake2b(f"{random_state}:{cohort}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class CohortIsolationForestDetector(Detector):
    """Calibrated Isolation Forests per cohort; small or unseen cohorts use the fleet forest."""

    kind: ClassVar[str] = "cohort_isolation_forest"
    default_threshold: ClassVar[float] = 0.7
    default_features: ClassVar[tuple[str, ...]] = FEATURE_NAMES
    default_params: ClassVar[dict[str, Any]] = {
        **FOREST_PARAMS,
        **GUARD_PARAMS,
        **AMBIENT_PARAMS,
        "min_cohort_rows": 200,
    }
    required_columns: ClassVar[tuple[str, ...]] = ("device_id", "cohort_id")

    _fleet: CalibratedForest | None = None
    _cohorts: dict[str, CalibratedForest] | None = None
    _guard: ContextGuard | None = None
    _slopes: dict[str, np.ndarray] | None = None

    @property
    def cohorts(self) -> tuple[str, ...]:
        """Return the cohort ids that have their own forest (sorted)."""
        return tuple(sorted(self._cohorts or {}))

    def _validate_config(self) -> None:
        """Check threshold, forest params and min_cohort_rows."""
        super()._validate_config()
        validate_forest_params(self.params)
        if int(self.params["min_cohort_rows"]) < 2:
            raise ValueError(f"min_cohort_rows must be >= 2, got {self.params['min_cohort_rows']}")

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Fit the fleet forest, then one forest per cohort with enough rows."""
        seed = self.params["random_state"]
        keys = cohort_keys(frame["cohort_id"])
        own = [
            cohort
            for cohort in sorted({k for k in keys if k is not None})
            if (keys == cohort).sum() >= self.params["min_cohort_rows"]
        ]
        slopes = fit_slopes(frame, values, self.feature_names, self.params)
        # A cohort without its own forest is judged as the fleet, ambient slopes included.
        self._slopes = slopes and {k: v for k, v in slopes.items() if k in ("", *own)}
        values = relative(frame, values, self.feature_names, self._slopes)
        self._fleet = CalibratedForest.fit(
            values, params=self.params, threshold=self.threshold, random_state=seed
        )
        self._cohorts = {
            cohort: CalibratedForest.fit(
                values[keys == cohort],
                params=self.params,
                threshold=self.threshold,
                random_state=cohort_seed(seed, cohort),
            )
            for cohort in own
        }
        self._guard = fit_guard(frame, self.params)

    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score each row with its cohort's forest, or the fleet forest."""
        assert self._fleet is not None and self._cohorts is not None
        values = relative(frame, values, self.feature_names, self._slopes)
        rows: dict[str | None, list[int]] = {}
        for i, key in enumerate(cohort_keys(frame["cohort_id"])):
            rows.setdefault(key if key in self._cohorts else None, []).append(i)
        raw = np.zeros(len(values))
        score = np.zeros(len(values))
        z = np.zeros_like(values)
        # Each row is scored only by its own forest, so grouping rows changes no number.
        for key, positions in rows.items():
            forest = self._fleet if key is None else self._cohorts[key]
            raw[positions], score[positions], z[positions] = forest.score(values[positions])
        score = guarded(score, frame, self._guard, self.params)
        return raw, score, score > self.threshold, z
