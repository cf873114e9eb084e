"""Feature drift statistics (domain §5.2, decision D8) as pure, vectorised numpy.

Django-free. Two samples of the C3 feature columns, a baseline and a current window, give
per feature a two-sample Kolmogorov-Smirnov statistic and p-value and a Population
Stability Index; `drift_frame` does it for the fleet and for every cohort in one pass.

KS. The statistic and p-value are those of `scipy.stats.ks_2samp` (two-sided, method
'auto'), computed from each column sorted once: the statistic with scipy's own arithmetic
(so it is bit-identical), the p-value by scipy's rule: exact when both samples have at most
10,000 values (scipy itself is called on those small samples), else Smirnov's asymptotic
`kstwo.sf(D, round(n1*n2/(n1+n2)))`. That `kstwo.sf` costs up to 0.2 s per call for the
sizes of a 100k-device fleet, because `scipy.special.smirnov` sums n terms in extended
precision; `kstwo_sf` sums the same Birnbaum-Tingey series in log space with numpy instead
(same value within 1e-11, 20x faster) and leaves every other branch to scipy.

PSI (D8). Ten quantile bins from the baseline: the edges are the baseline's deciles
(numpy's linear interpolation), the outer bins are open to -inf and +inf, and a bin holds
its lower edge ([q_i, q_i+1)). Ties: a value that two or more deciles share holds at least a
tenth of the baseline (a constant feature, `quality_flag_count` = 0, completeness = 1.0);
it becomes a bin of its own, {v}, between the open intervals either side of it, instead of
being lumped with a neighbour where a move off it could not be seen. A constant baseline c
thus gives three bins: below c, exactly c, above c. Proportions below epsilon (1e-6) are
raised to it, so an empty bin on either side stays finite and two empty bins add nothing.
PSI = sum((actual - expected) * ln(actual / expected)); identical samples give 0.

Nulls are dropped per feature (a feature is null when its sensor sent nothing in the
window); each row reports how many were dropped on each side.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from scoring.features import FEATURE_NAMES

# The 44 model features plus reading_count: a falling count is a pipeline symptom the
# meta-check should see. 45 columns, the figure issue 6 names.
DRIFT_FEATURES: tuple[str, ...] = (*FEATURE_NAMES, "reading_count")

PSI_BINS = 10
PSI_EPSILON = 1e-6
PSI_MODERATE = 0.1  # D8: < 0.1 none, 0.1-0.2 moderate, > 0.2 significant
PSI_SIGNIFICANT = 0.2
KS_STATISTIC_MIN = 0.1  # a window breaches when the statistic is above this ...
KS_P_VALUE_MAX = 0.01  # ... and the p-value below this
KS_CONSECUTIVE_WINDOWS = 3  # D8: a feature drifts after this many breaching windows in a row
SUSPECT_SHARE = 0.30  # more than this share drifting at once: pipeline or baseline suspect

FLEET = "fleet"
COHORT = "cohort"
SCIPY_EXACT_MAX_N = 10_000  # scipy.stats.ks_2samp's MAX_AUTO_N

RESULT_COLUMNS = (
    "scope",
    "cohort_id",
    "feature_name",
    "ks_statistic",
    "ks_p_value",
    "psi",
    "severity",
    "ks_exceeded",
    "n_baseline",
    "n_current",
    "null_baseline",
    "null_current",
)


class Severity(StrEnum):
    NONE = "none"
    MODERATE = "moderate"
    SIGNIFICANT = "significant"
    NO_DATA = "no_data"  # a side had no non-null value: nothing to compare


class EmptySampleError(ValueError):
    """A sample has no non-null value, so no distribution to compare."""


def psi_severity(psi: float) -> Severity:
    """D8 cut-offs: < 0.1 none, 0.1 to 0.2 (both included) moderate, > 0.2 significant."""
    if psi is None or math.isnan(psi):
        return Severity.NO_DATA
    if psi > PSI_SIGNIFICANT:
        return Severity.SIGNIFICANT
    if psi >= PSI_MODERATE:
        return Severity.MODERATE
    return Severity.NONE


def ks_exceeded(statistic: float, p_value: float) -> bool:
    """Whether one window breaches the KS rule: statistic > 0.1 and p < 0.01."""
    return bool(statistic > KS_STATISTIC_MIN and p_value < KS_P_VALUE_MAX)


def drifting(breaches: Sequence[bool]) -> bool:
    """D8: a feature drifts when the last three consecutive windows (oldest first) all
    breached; a missing window (None) breaks the run."""
    recent = list(breaches)[-KS_CONSECUTIVE_WINDOWS:]
    return len(recent) == KS_CONSECUTIVE_WINDOWS and all(b is not None and bool(b) for b in recent)


def pipeline_suspect(features_drifting: int, features_total: int) -> bool:
    """D8 meta-check: more than 30 % of the features drifting at once points at the
    pipeline or a stale baseline rather than at the fleet (exactly 30 % is not suspect)."""
    return features_total > 0 and features_drifting / features_total > SUSPECT_SHARE


# ------------------------------------------------------------------------ one sample pair


def _clean(values) -> np.ndarray:
    """Drop nulls; raise EmptySampleError when nothing is left."""
    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[~np.isnan(array)]
    if array.size == 0:
        raise EmptySampleError("sample has no non-null values")
    return array


def psi(baseline, current) -> float:
    """PSI of `current` against `baseline` with D8's ten baseline-quantile bins."""
    try:
        expected = np.sort(_clean(baseline))
    except EmptySampleError:
        raise EmptySampleError("PSI needs a baseline with at least one non-null value") from None
    try:
        actual = np.sort(_clean(current))
    except EmptySampleError:
        raise EmptySampleError(
            "PSI needs a current sample with at least one non-null value"
        ) from None
    return _psi_sorted(expected, actual)


def ks(baseline, current) -> tuple[float, float]:
    """Two-sample KS (statistic, p-value), equal to scipy.stats.ks_2samp's."""
    b, c = np.sort(_clean(baseline)), np.sort(_clean(current))
    statistic = _ks_statistic_sorted(b, c)
    return _ks_result(b, c, statistic)


def quantile_bins(sorted_baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct decile edges of a sorted baseline and which of them are tied values."""
    edges, repeats = np.unique(deciles(sorted_baseline), return_counts=True)
    return edges, repeats > 1


def deciles(sorted_values: np.ndarray) -> np.ndarray:
    """np.quantile(x, [0.1, ..., 0.9]) (method 'linear') of a sorted sample, read off by
    index instead of partitioning again; numpy's lerp, so the same floats."""
    position = (sorted_values.size - 1) * (np.arange(1, PSI_BINS) / PSI_BINS)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, sorted_values.size - 1)
    t = position - below
    a, b = sorted_values[below], sorted_values[above]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray, tied: np.ndarray) -> np.ndarray:
    """Counts per bin, lowest first: (-inf, e0), then per edge either [e, next) or, for a
    tied edge, {e} and (e, next); the last bin is open above."""
    left = np.searchsorted(sorted_values, edges, side="left")
    right = np.searchsorted(sorted_values, edges, side="right")
    at_edge = right - left
    above = np.append(left[1:], sorted_values.size) - right
    pairs = np.stack([np.where(tied, at_edge, 0), np.where(tied, above, at_edge + above)], 1)
    keep = np.stack([tied, np.ones_like(tied)], 1)
    return np.concatenate([left[:1], pairs[keep]])


def psi_from_counts(expected: np.ndarray, actual: np.ndarray, epsilon=PSI_EPSILON) -> float:
    """PSI from bin counts, their proportions floored at epsilon."""
    return psi_from_proportions(
        np.maximum(expected / expected.sum(), epsilon), np.maximum(actual / actual.sum(), epsilon)
    )


def psi_from_proportions(expected: np.ndarray, actual: np.ndarray) -> float:
    """sum((actual - expected) * ln(actual / expected)) over bins with no zero proportion."""
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _psi_sorted(expected: np.ndarray, actual: np.ndarray) -> float:
    edges, tied = quantile_bins(expected)
    return psi_from_counts(bin_counts(expected, edges, tied), bin_counts(actual, edges, tied))


def _ks_statistic_sorted(b: np.ndarray, c: np.ndarray) -> float:
    """max |ECDF_b - ECDF_c| over both samples with ks_2samp's operations (count / n, then
    the difference), so bit-identical; but each sample's own ECDF comes from its run ends
    rather than a search, which halves scipy's searching."""
    b_values, b_counts = _run_ends(b)
    c_values, c_counts = _run_ends(c)
    at_b = b_counts / b.size - np.searchsorted(c, b_values, side="right") / c.size
    at_c = np.searchsorted(b, c_values, side="right") / b.size - c_counts / c.size
    low, high = min(at_b.min(), at_c.min()), max(at_b.max(), at_c.max())
    return float(max(min(max(-low, 0.0), 1.0), high))


def _run_ends(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct value of a sorted sample and how many values are <= it."""
    last = np.flatnonzero(np.append(sorted_values[1:] != sorted_values[:-1], True))
    return sorted_values[last], last + 1


def _ks_result(b: np.ndarray, c: np.ndarray, statistic: float) -> tuple[float, float]:
    """(statistic, p-value) by scipy's 'auto' rule; b and c are the sorted samples."""
    if max(b.size, c.size) <= SCIPY_EXACT_MAX_N:
        # Exact: scipy on the (small) samples, which may also snap the statistic to its
        # lattice; it falls back to the asymptotic form by itself when exact fails.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ks_2samp(b, c)
        return float(result.statistic), float(result.pvalue)
    m, n = sorted((float(b.size), float(c.size)), reverse=True)
    return statistic, float(np.clip(kstwo_sf(statistic, round(m * n / (m + n))), 0.0, 1.0))


# ------------------------------------------------------------------- Kolmogorov tail


def kstwo_sf(d: float, n: int) -> float:
    """scipy.stats.kstwo.sf(d, n), with its slow branch (2 * smirnov for n > 140 and
    2.2 <= n d^2 < 370) summed in numpy; every other branch is scipy's."""
    if n > 140 and 1.0 < n * d < n - 1 and d < 0.5 and 2.2 <= n * d * d < 370.0:
        return min(max(2.0 * _smirnov(n, d), 0.0), 1.0)
    return float(stats.kstwo.sf(d, n))


def _smirnov(n: int, x: float) -> float:
    """One-sided P(D+_n >= x), Birnbaum-Tingey: x sum_j C(n,j) (x+j/n)^(j-1) (1-x-j/n)^(n-j)."""
    j = np.arange(math.floor(n * (1.0 - x)) + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_terms = (
            gammaln(n + 1.0)
            - gammaln(j + 1.0)
            - gammaln(n - j + 1.0)
            + (j - 1.0) * np.log(x + j / n)
            + (n - j) * np.log1p(-x - j / n)
        )
    top = log_terms.max()
    return float(x * math.exp(top) * np.exp(log_terms - top).sum())


# ------------------------------------------------------------------------- frames


def drift_frame(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: Sequence[str] = DRIFT_FEATURES,
    group: str | None = "cohort_id",
    workers: int = 1,
) -> pd.DataFrame:
    """Drift of every feature, fleet-wide and (when `group` names a column) per group.

    One row per (scope, cohort_id, feature) with RESULT_COLUMNS: the fleet rows first with
    cohort_id '', then the cohorts of the current window in order. A side with no non-null
    value gives a `no_data` row with null statistics. Each column is sorted once per cohort
    and the sorted cohort runs are merged for the fleet. `workers` > 1 spreads the features
    over threads (numpy's sorts and searches release the GIL).
    """
    if len(current) == 0:
        raise EmptySampleError("the current window has no rows")
    if len(baseline) == 0:
        raise EmptySampleError("the baseline has no rows")
    missing = [f for f in features if f not in baseline.columns or f not in current.columns]
    if missing:
        raise KeyError(f"feature columns missing: {', '.join(missing)}")
    groups = [] if group is None else sorted(pd.unique(current[group].astype(str)))
    b_split = _Split(baseline, group, groups)
    c_split = _Split(current, group, groups)

    def one_feature(feature: str) -> list[tuple]:
        b_runs, b_rest = b_split.sorted_runs(feature)
        c_runs, c_rest = c_split.sorted_runs(feature)
        fleet = _row(FLEET, "", feature, _merge([*b_runs, b_rest]), _merge([*c_runs, c_rest]))
        cohorts = [
            _row(COHORT, g, feature, b, c) for g, b, c in zip(groups, b_runs, c_runs, strict=True)
        ]
        return [fleet, *cohorts]

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            per_feature = list(pool.map(one_feature, features))
    else:
        per_feature = [one_feature(f) for f in features]
    fleet_rows = [rows[0] for rows in per_feature]
    cohort_rows = [row for i in range(len(groups)) for row in (r[i + 1] for r in per_feature)]
    return pd.DataFrame(fleet_rows + cohort_rows, columns=RESULT_COLUMNS)


class _Run:
    """A sorted sample without nulls, and how many nulls it had."""

    __slots__ = ("nulls", "values")

    def __init__(self, values: np.ndarray, nulls: int):
        self.values, self.nulls = values, nulls


class _Split:
    """A frame's rows ordered by group, so each group's rows are one contiguous slice; rows
    of a group the current window lacks form a last slice that only the fleet uses."""

    def __init__(self, frame: pd.DataFrame, group: str | None, groups: list[str]):
        self.frame = frame
        if group is None:
            self.order, self.bounds = None, np.array([0, len(frame)])
            return
        codes = pd.Index(groups).get_indexer(frame[group].astype(str))
        codes[codes < 0] = len(groups)  # not a current group: last
        self.order = np.argsort(codes, kind="stable")  # radix sort on small ints
        self.bounds = np.searchsorted(codes[self.order], np.arange(len(groups) + 2))

    def sorted_runs(self, feature: str) -> tuple[list[_Run], _Run]:
        """Per group the feature's sorted non-null values, and the same for the rest."""
        column = self.frame[feature].to_numpy(dtype=np.float64, na_value=np.nan)
        if self.order is not None:
            column = column[self.order]
        runs = [
            _sorted_valid(column[lo:hi])
            for lo, hi in zip(self.bounds[:-1], self.bounds[1:], strict=True)
        ]
        if self.order is None:
            return [], runs[0]
        return runs[:-1], runs[-1]


def _sorted_valid(column: np.ndarray) -> _Run:
    ordered = np.sort(column)  # NaN sorts last: count them only when the last is one
    nulls = (
        int(np.count_nonzero(np.isnan(ordered))) if ordered.size and np.isnan(ordered[-1]) else 0
    )
    return _Run(ordered[: ordered.size - nulls], nulls)


def _merge(runs: list[_Run]) -> _Run:
    """One sorted sample from sorted runs (timsort merges them in about linear time)."""
    runs = [r for r in runs if r.values.size or r.nulls]
    if len(runs) == 1:
        return runs[0]
    values = np.concatenate([r.values for r in runs]) if runs else np.empty(0)
    return _Run(np.sort(values, kind="stable"), sum(r.nulls for r in runs))


def _row(scope: str, cohort_id: str, feature: str, b: _Run, c: _Run) -> tuple:
    counts = (b.values.size, c.values.size, b.nulls, c.nulls)
    if b.values.size == 0 or c.values.size == 0:
        return (scope, cohort_id, feature, None, None, None, Severity.NO_DATA.value, False, *counts)
    statistic, p_value = _ks_result(b.values, c.values, _ks_statistic_sorted(b.values, c.values))
    value = _psi_sorted(b.values, c.values)
    return (
        scope,
        cohort_id,
        feature,
        statistic,
        p_value,
        value,
        psi_severity(value).value,
        ks_exceeded(statistic, p_value),
        *counts,
    )
