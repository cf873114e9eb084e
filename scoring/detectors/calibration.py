"""A fixed, monotone map from a model's raw anomaly score to [0, 1], learned at fit time.

Django-free. [MI] min-max normalises each scoring batch, which makes a device's score depend
on the rest of the batch and lets a quiet fleet push its least normal device to 1.0. Instead
the map is anchored on quantiles of the training raw scores, so the same raw score always gets
the same calibrated score, and the threshold keeps its meaning across runs:

1. training minimum -> 0, training median -> threshold / 2 (0.35 at 0.7);
2. the (1 - c) training quantile -> threshold, c = contamination: about c of the training
   rows score above the threshold (5 % at 0.7, the expected alert rate of §8);
3. the (1 - c/5) quantile -> half-way from threshold to 1 (99 % -> 0.85 at defaults, D3's
   HIGH cut-off): the most unusual 1 % of training rows are "strong" anomalies;
4. the (1 - c/50) quantile -> two thirds of the way (99.9 % -> 0.9 at defaults);
5. beyond it an exponential tail approaches 1 with the same slope as the last segment, so
   only points well past anything seen in training reach CRITICAL (> 0.95, D3), and no
   score exceeds 1.
Between anchors the map is linear; below the training minimum it is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Exceedance share of each upper anchor, as a fraction of the contamination.
_UPPER_SHARES = (1.0 / 5.0, 1.0 / 50.0)


@dataclass(frozen=True)
class ScoreCalibration:
    """Piecewise-linear knots plus an exponential tail past the last knot."""

    knots_raw: tuple[float, ...]
    knots_score: tuple[float, ...]
    tail_scale: float

    @classmethod
    def fit(
        cls, raw_train: np.ndarray, *, contamination: float, threshold: float
    ) -> ScoreCalibration:
        """Anchor the map on training raw-score quantiles (see the module docstring)."""
        raw_train = np.asarray(raw_train, dtype="float64")
        if raw_train.size == 0 or not np.isfinite(raw_train).all():
            raise ValueError("calibration needs a non-empty set of finite training raw scores")
        if not 0.0 < contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {contamination}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        levels = [0.0, 0.5, 1.0 - contamination]
        levels += [1.0 - contamination * share for share in _UPPER_SHARES]
        quantiles = np.quantile(raw_train, levels)
        # Ties (tiny or constant training sets) would make knots collide; nudge each knot just
        # above the previous one so the map stays strictly increasing and np.interp is defined.
        spread = max(float(quantiles[-1] - quantiles[0]), 1e-6)
        knots = [float(quantiles[0])]
        for q in quantiles[1:]:
            knots.append(max(float(q), knots[-1] + 1e-3 * spread))
        headroom = 1.0 - threshold
        scores = (
            0.0,
            threshold / 2.0,
            threshold,
            threshold + headroom / 2.0,
            threshold + headroom * 2.0 / 3.0,
        )
        # Match the tail's initial slope (1 - top) / scale to the last segment's slope, so the
        # map has no kink where training data end.
        last_slope = (scores[-1] - scores[-2]) / (knots[-1] - knots[-2])
        return cls(tuple(knots), scores, (1.0 - scores[-1]) / last_slope)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Map raw scores (larger = more anomalous) to calibrated scores in [0, 1]."""
        raw = np.asarray(raw, dtype="float64")
        score = np.interp(raw, self.knots_raw, self.knots_score)
        top_raw, top_score = self.knots_raw[-1], self.knots_score[-1]
        beyond = raw > top_raw
        score[beyond] = 1.0 - (1.0 - top_score) * np.exp(-(raw[beyond] - top_raw) / self.tail_scale)
        return np.clip(score, 0.0, 1.0)
