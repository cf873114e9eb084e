"""Rules-based fallback (domain §4.5): limits on four features, flag only.

Django-free. Used when the model scorers are down or their scores are stale, so it must work
on poor data: a missing (NaN) input simply does not fire its rule, and nothing needs fitting.

The §4.5 limits (evaporator mean > 0 °C, ...) are the params' defaults. They suit no
equipment in particular: a medium-temperature case whose coil runs near 0 °C would be
flagged in every window. So a frame may carry per-row limits in the `LIMIT_COLUMNS`
(filled by the caller from each device's equipment profile, `limits_from_ranges`); where
such a column holds a number it replaces the param for that row, and NaN keeps the param.
The detector itself never looks anything up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from scoring.detectors.base import Z_CAP, Detector, top_contributors


@dataclass(frozen=True)
class Rule:
    """Fire when `feature` is strictly past the limit stored in params[`param`]."""

    feature: str
    param: str
    above: bool  # True: fire when value > limit; False: fire when value < limit
    sensor: str  # whose normal operating range gives a per-device limit
    temperature: bool = False  # suppressed during defrost (D10)


RULES: tuple[Rule, ...] = (
    Rule(
        "temp_evaporator_mean",
        "temp_evaporator_mean_above",
        above=True,
        sensor="temperature_evaporator",
        temperature=True,
    ),
    Rule(
        "vibration_compressor_max",
        "vibration_compressor_max_above",
        above=True,
        sensor="vibration_compressor",
    ),
    Rule("pressure_low_mean", "pressure_low_mean_below", above=False, sensor="pressure_low_side"),
    Rule(
        "current_compressor_max",
        "current_compressor_max_above",
        above=True,
        sensor="current_compressor",
    ),
)
DEFROST_FEATURE = "defrost_active_fraction"
# Optional per-row limits a frame may carry, one per rule: NaN keeps the param's limit.
LIMIT_COLUMNS: dict[str, str] = {rule.param: f"limit_{rule.param}" for rule in RULES}


def limits_from_ranges(ranges: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """Return rule limits from normal operating ranges {sensor: (low, high)}.

    A window is past a rule when its mean (or max) leaves the sensor's normal range: the
    high end for rules that fire above, the low end for the low-side pressure rule. Sensors
    without a range keep the §4.5 default.
    """
    limits = {}
    for rule in RULES:
        bounds = ranges.get(rule.sensor)
        if bounds is not None:
            limits[rule.param] = float(bounds[1] if rule.above else bounds[0])
    return limits


class RulesFallbackDetector(Detector):
    """Flag a window when any §4.5 limit is crossed; anomaly_score is always 0.0.

    TRICKY: unlike the model detectors the flag is *not* `score > threshold`: the score is a
    constant 0.0 and `threshold` (0.0) is only recorded as `threshold_used`; the rules decide
    the flag. Severity code must not read 0.0 as "normal" when the flag is set.
    """

    kind: ClassVar[str] = "rules_fallback"
    default_threshold: ClassVar[float] = 0.0
    default_features: ClassVar[tuple[str, ...]] = (
        *(rule.feature for rule in RULES),
        DEFROST_FEATURE,
    )
    default_params: ClassVar[dict[str, Any]] = {
        "temp_evaporator_mean_above": 0.0,
        "vibration_compressor_max_above": 20.0,
        "pressure_low_mean_below": 100.0,
        "current_compressor_max_above": 35.0,
        # D10: the evaporator runs warm while defrosting (it ends at ~8-13 °C), so the
        # temperature rule does not fire in a window with any defrost activity.
        "suppress_temperature_during_defrost": True,
    }
    allows_missing: ClassVar[bool] = True
    requires_fit: ClassVar[bool] = False

    def _validate_config(self) -> None:
        """Check that every rule's feature is scored and every limit is finite."""
        needed = [rule.feature for rule in RULES]
        if self.params["suppress_temperature_during_defrost"]:
            needed.append(DEFROST_FEATURE)
        missing = [name for name in needed if name not in self.feature_names]
        if missing:
            raise ValueError(f"rules_fallback needs features {missing} in feature_names")
        for rule in RULES:
            if not np.isfinite(float(self.params[rule.param])):
                raise ValueError(f"{rule.param} must be a finite number")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Learn nothing: the limits are fixed; Detector.fit already recorded statistics."""

    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (rules fired, 0.0, flag, relative excess per feature)."""
        column = {name: j for j, name in enumerate(self.feature_names)}
        excess = np.zeros_like(values)
        defrosting = np.zeros(len(values), dtype=bool)
        if self.params["suppress_temperature_during_defrost"]:
            # NaN > 0 is False: unknown defrost state does not suppress the rule.
            defrosting = values[:, column[DEFROST_FEATURE]] > 0
        for rule in RULES:
            limit = self._limits(frame, rule)
            x = values[:, column[rule.feature]]
            past = x - limit if rule.above else limit - x
            # Strictly past the limit; NaN comparisons are False, so a missing value never fires.
            fired = past > 0
            if rule.temperature:
                fired &= ~defrosting
            # Relative to the limit (a 0 °C limit would divide by zero: use 1 unit instead).
            scale = np.maximum(np.abs(limit[fired]), 1.0)
            excess[fired, column[rule.feature]] = np.minimum(past[fired] / scale, Z_CAP)
        fired_count = (excess > 0).sum(axis=1).astype("float64")
        return fired_count, np.zeros(len(values)), fired_count > 0, excess

    def _limits(self, frame: pd.DataFrame, rule: Rule) -> np.ndarray:
        """Return each row's limit for `rule`: its own limit column where set, else the param."""
        default = float(self.params[rule.param])
        name = LIMIT_COLUMNS[rule.param]
        if name not in frame:
            return np.full(len(frame), default)
        try:
            own = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.kind}: {name} must be numeric: {exc}") from exc
        # An infinite limit would silence its rule for good; it is a caller's bug, not a value.
        if np.isinf(own).any():
            raise ValueError(f"{self.kind}: {name} holds an infinite limit")
        return np.where(np.isnan(own), default, own)

    def _contributors(self, z: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        """Return only the features whose rule fired, furthest past its limit first."""
        names, scores = top_contributors(z, self.feature_names)
        kept = [
            [(n, s) for n, s in zip(row_names, row_scores, strict=True) if s > 0]
            for row_names, row_scores in zip(names, scores, strict=True)
        ]
        return [[n for n, _ in row] for row in kept], [[s for _, s in row] for row in kept]
