"""Model-layer figures of one scoring run (domain §5.3), as pure pandas.

Django-free. In: the run's scores, one row per (model_id, device_id, window_end) with
`anomaly_score`, `anomaly_flag` and the device's `cohort_id`, `region` and
`equipment_model`. Out: `Metric` rows: per model its score distribution, anomaly rate
overall and per slice; across the voting models their flag agreement and the devices on
which they disagree about a high score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

HISTOGRAM_BINS = 20  # on [0, 1]: 0.05 wide
SLICE_COLUMNS = ("cohort_id", "region", "equipment_model")
# Domain §5.3: a high-score disagreement is one model above 0.8 while another is below 0.3.
HIGH_SCORE = 0.8
LOW_SCORE = 0.3
# Limits are strict ("above 3 pp"): a figure that equals its limit up to float rounding
# (0.08 - 0.05 = 0.030000000000000002) is at the limit, not past it.
TOLERANCE = 1e-9


def above(value: float, limit: float) -> bool:
    return value > limit + TOLERANCE


def below(value: float, limit: float) -> bool:
    return value < limit - TOLERANCE


@dataclass(frozen=True)
class Metric:
    model_id: str  # blank for figures across models
    metric: str
    value: float | None
    slice: str = ""
    devices: int = 0


def histogram_slice(index: int) -> str:
    return f"bin:{index:02d}"


def pair_slice(a: str, b: str) -> str:
    return f"pair:{a}|{b}"


def model_metrics(scores: pd.DataFrame) -> list[Metric]:
    """Per model: devices, mean, std (population), p95, anomaly rate, the score histogram
    and the anomaly rate of every cohort, region and equipment model."""
    metrics: list[Metric] = []
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    for model_id, group in scores.groupby("model_id", sort=True):
        score = group["anomaly_score"].to_numpy(dtype="float64")
        flag = group["anomaly_flag"].to_numpy(dtype=bool)
        n = len(group)
        metrics += [
            Metric(model_id, "devices", float(n), devices=n),
            Metric(model_id, "mean_score", float(score.mean()), devices=n),
            Metric(model_id, "score_std", float(score.std()), devices=n),
            Metric(model_id, "score_p95", float(np.percentile(score, 95)), devices=n),
            Metric(model_id, "anomaly_rate", float(flag.mean()), devices=n),
        ]
        counts, _ = np.histogram(np.clip(score, 0.0, 1.0), bins=edges)
        metrics += [
            Metric(model_id, "score_histogram", float(c), histogram_slice(i), devices=n)
            for i, c in enumerate(counts)
        ]
        for column in SLICE_COLUMNS:
            rates = group.groupby(column, sort=True)["anomaly_flag"].agg(["mean", "size"])
            metrics += [
                Metric(
                    model_id, "anomaly_rate", float(r["mean"]), f"{column}:{key}", int(r["size"])
                )
                for key, r in rates.iterrows()
                if key != ""
            ]
    return metrics


def agreement_metrics(scores: pd.DataFrame, voters: Sequence[str]) -> list[Metric]:
    """Flag agreement of every pair of `voters`, unanimity, and high-score disagreements.

    Only device-windows both (or all) models scored are compared. Pairwise agreement is
    the share of them where the two flags are equal; unanimous agreement the share where
    every voter gives the same flag; a high-score disagreement is a device-window where
    one voter scores above HIGH_SCORE and another below LOW_SCORE.
    """
    voters = sorted(set(voters))
    if len(voters) < 2:
        return []
    mine = scores[scores["model_id"].isin(voters)]
    # One row per device-window, one column per model (NaN where it did not score), built
    # with numpy: pandas' pivot and row-wise nunique take seconds on a 100k-device run.
    key = (
        mine["device_id"]
        if mine["window_end"].nunique() <= 1
        else pd.MultiIndex.from_frame(mine[["device_id", "window_end"]])
    )
    rows, uniques = pd.factorize(key)
    flags: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for model_id in voters:
        mask = (mine["model_id"] == model_id).to_numpy()
        if not mask.any():
            continue
        flags[model_id] = np.full(len(uniques), np.nan)
        flags[model_id][rows[mask]] = mine["anomaly_flag"].to_numpy(dtype=float)[mask]
        values[model_id] = np.full(len(uniques), np.nan)
        values[model_id][rows[mask]] = mine["anomaly_score"].to_numpy(dtype=float)[mask]
    metrics = []
    for a, b in combinations(sorted(flags), 2):
        both = ~np.isnan(flags[a]) & ~np.isnan(flags[b])
        if both.any():
            agree = float((flags[a][both] == flags[b][both]).mean())
            metrics.append(
                Metric("", "pairwise_agreement", agree, pair_slice(a, b), int(both.sum()))
            )
    if len(flags) >= 2:
        flag_matrix = np.column_stack([flags[m] for m in sorted(flags)])
        complete = ~np.isnan(flag_matrix).any(axis=1)
        if complete.any():
            full = flag_matrix[complete]
            unanimous = float((full.min(axis=1) == full.max(axis=1)).mean())
            metrics.append(
                Metric("", "unanimous_agreement", unanimous, devices=int(complete.sum()))
            )
        score_matrix = np.column_stack([values[m] for m in sorted(values)])
        compared = score_matrix[(~np.isnan(score_matrix)).sum(axis=1) >= 2]
        with np.errstate(invalid="ignore"):
            high = np.nanmax(compared, axis=1) > HIGH_SCORE
            low = np.nanmin(compared, axis=1) < LOW_SCORE
        metrics.append(
            Metric(
                "",
                "high_score_disagreements",
                float((high & low).sum()),
                devices=len(compared),
            )
        )
    return metrics
