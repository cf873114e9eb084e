"""Canary and regression comparison of a candidate with the production version (D11).

Django-free: two score series over the same devices in, metrics and gate verdicts out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

KL_BINS = 20
KL_EPSILON = 1e-6
TOP_N = 100


@dataclass(frozen=True)
class Gates:
    """D11 limits. Canary and regression share KL and overlap; mean diff is canary only."""

    max_mean_abs_diff: float | None = 0.05
    max_contamination_change: float = 0.02
    min_top_overlap: float = 0.8
    max_kl: float = 0.1


CANARY_GATES = Gates()
REGRESSION_GATES = Gates(max_mean_abs_diff=None)


@dataclass
class Comparison:
    devices: int
    mean_abs_diff: float
    contamination_candidate: float
    contamination_reference: float
    contamination_change: float
    top_overlap: float
    kl_divergence: float
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def kl_divergence(candidate: np.ndarray, reference: np.ndarray) -> float:
    """KL(candidate || reference) of score histograms on [0, 1], smoothed by epsilon."""
    bins = np.linspace(0.0, 1.0, KL_BINS + 1)
    p = np.histogram(np.clip(candidate, 0, 1), bins=bins)[0].astype(float) + KL_EPSILON
    q = np.histogram(np.clip(reference, 0, 1), bins=bins)[0].astype(float) + KL_EPSILON
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def top_overlap(candidate: pd.Series, reference: pd.Series, n: int = TOP_N) -> float:
    """Share of the reference's n highest-scored devices that the candidate also ranks top n."""
    n = min(n, len(reference))
    if n == 0:
        return 1.0
    top_ref = set(reference.nlargest(n).index)
    top_cand = set(candidate.nlargest(n).index)
    return len(top_ref & top_cand) / n


def compare(
    *,
    candidate: pd.DataFrame,
    reference: pd.DataFrame,
    gates: Gates,
) -> Comparison:
    """Compare two frames indexed by device with `anomaly_score` and `anomaly_flag` columns."""
    common = candidate.index.intersection(reference.index)
    cand, ref = candidate.loc[common], reference.loc[common]
    if not len(common):
        return Comparison(0, 0, 0, 0, 0, 0, 0, ["no device scored by both versions"])
    c_rate = float(cand["anomaly_flag"].mean())
    r_rate = float(ref["anomaly_flag"].mean())
    result = Comparison(
        devices=len(common),
        mean_abs_diff=float((cand["anomaly_score"] - ref["anomaly_score"]).abs().mean()),
        contamination_candidate=c_rate,
        contamination_reference=r_rate,
        contamination_change=c_rate - r_rate,
        top_overlap=top_overlap(cand["anomaly_score"], ref["anomaly_score"]),
        kl_divergence=kl_divergence(
            cand["anomaly_score"].to_numpy(), ref["anomaly_score"].to_numpy()
        ),
    )
    limit = gates.max_mean_abs_diff
    if limit is not None and result.mean_abs_diff >= limit:
        result.failures.append(
            f"mean absolute score difference {result.mean_abs_diff:.3f} >= {limit}"
        )
    if abs(result.contamination_change) > gates.max_contamination_change:
        result.failures.append(
            f"contamination changes by {result.contamination_change:+.1%}"
            f" (limit ±{gates.max_contamination_change:.0%})"
        )
    if result.top_overlap < gates.min_top_overlap:
        result.failures.append(
            f"top-{TOP_N} overlap {result.top_overlap:.0%} < {gates.min_top_overlap:.0%}"
        )
    if result.kl_divergence >= gates.max_kl:
        result.failures.append(f"KL divergence {result.kl_divergence:.3f} >= {gates.max_kl}")
    return result
