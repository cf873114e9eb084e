"""Contract C4 (domain §2.5): impute feature windows and check feature names before scoring.

Django-free. The training job and the scorers both call `impute` with the same method (stored
in model metadata: changing it requires a retrain) and the cohort medians computed from the
training partition, so training and serving fill gaps the same way.

Imputation, per feature:

1. forward-fill from the device's own last non-null value in an earlier window (never from a
   later one: that would leak the future into the past);
2. fill what is left with the cohort median (training medians when given, else the frame's);
3. exclude rows that still have a gap; they are returned separately so the caller can count
   and log them.

A sensor a whole cohort lacks (older units without vibration or humidity) is not a gap: its
features have no cohort median, so step 3 would exclude every window of the cohort, and a
fleet of such units could not train at all. Training therefore stores, beside the cohort
medians, a fill for each feature a cohort never reported: the fleet median
(`compute_fill_values`). The value is the same for every window of the cohort, in training
and in scoring, which is what makes it neutral for every model kind:

- per-device and per-cohort baselines (statistical, daily) see no variation in it, so its
  z-score is 0 and it never becomes a contributor;
- a per-cohort Isolation Forest never splits on a constant column (the tree builder skips
  constant features), so each cohort forest in effect uses the sensors its cohort has;
- the fleet Isolation Forest sees a value typical of the fleet, so a missing sensor never
  makes a window look unusual. TRICKY: a column that is constant within the cohort makes
  its windows a little harder to isolate (every split on it sends them the same way), so
  their fleet scores sit lower (synthetic windows, tests/scoring/detectors/
  test_missing_sensors.py: mean 0.29 instead of 0.38 when healthy, 0.56 instead of 0.64
  with a coil 25 °C too warm). The cohort forest, which in effect splits on its cohort's
  own sensors only, is the model that judges such a cohort best.

A feature that no training window has at all is left out of the model (`observed_features`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

IMPUTATION_METHODS: tuple[str, ...] = ("ffill_then_cohort_median",)
KEY_COLUMNS: tuple[str, ...] = ("device_id", "cohort_id", "window_end")


class FeatureMismatch(ValueError):
    """The features offered do not match the ones the model was trained on."""


def check_feature_names(expected: Sequence[str], actual: Sequence[str]) -> None:
    """Raise FeatureMismatch unless `actual` lists exactly `expected`, in the same order."""
    expected, actual = list(expected), list(actual)
    if expected == actual:
        return
    problems = []
    missing = [name for name in expected if name not in actual]
    extra = [name for name in actual if name not in expected]
    duplicated = sorted({name for name in actual if actual.count(name) > 1})
    if missing:
        problems.append(f"missing {missing}")
    if extra:
        problems.append(f"unexpected {extra}")
    if duplicated:
        problems.append(f"duplicated {duplicated}")
    if not problems:
        # Same names, different order: name the first position that differs.
        position = next(i for i, (e, a) in enumerate(zip(expected, actual, strict=True)) if e != a)
        problems.append(
            f"misordered from position {position}: expected {expected[position]!r}, "
            f"got {actual[position]!r}"
        )
    raise FeatureMismatch(
        f"feature names do not match the training list ({len(expected)} expected, "
        f"{len(actual)} given): " + "; ".join(problems)
    )


def require_columns(frame: pd.DataFrame, names: Sequence[str]) -> None:
    """Raise FeatureMismatch naming every column of `names` that `frame` lacks."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise FeatureMismatch(f"missing feature columns {missing} ({len(missing)} of {len(names)})")


def compute_cohort_medians(
    frame: pd.DataFrame, feature_names: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Return {cohort_id: {feature: median}} over the observed (non-null) values of `frame`."""
    require_columns(frame, ["cohort_id", *feature_names])
    values = _numeric(frame, feature_names)
    # dropna=True: rows without a cohort cannot contribute to (or use) a cohort median.
    medians = values.groupby(cohort_keys(frame["cohort_id"]), sort=True).median()
    return {
        str(cohort): {name: float(v) for name, v in row.items() if np.isfinite(v)}
        for cohort, row in medians.iterrows()
    }


def compute_fill_values(
    frame: pd.DataFrame, feature_names: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Return the cohort medians plus, for features a cohort never reported, the fleet median.

    Stored with the model as its `cohort_medians`, so scoring fills exactly as training did.
    """
    medians = compute_cohort_medians(frame, feature_names)
    fleet = _numeric(frame, feature_names).median()
    fleet_fill = {name: float(v) for name, v in fleet.items() if np.isfinite(v)}
    return {cohort: {**fleet_fill, **own} for cohort, own in medians.items()}


def observed_features(frame: pd.DataFrame, feature_names: Sequence[str]) -> list[str]:
    """Return the features of `feature_names` with at least one finite value in `frame`."""
    require_columns(frame, feature_names)
    values = _numeric(frame, feature_names)
    return [name for name in feature_names if np.isfinite(values[name]).any()]


def impute(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    method: str = "ffill_then_cohort_median",
    cohort_medians: Mapping[str, Mapping[str, float]] | None = None,
) -> tuple[pd.DataFrame, pd.Index]:
    """Fill feature gaps (ffill per device, then cohort median); return (kept rows, excluded index).

    The kept frame has every column of `frame`, the original index and row order, all windows
    (choosing the latest per device is the caller's business) and float64 feature columns
    without a single NaN. Cohort medians are looked up by `cohort_key(cohort_id)`, so integer
    and string keys (as JSON returns them) both match.
    """
    if method not in IMPUTATION_METHODS:
        raise ValueError(f"unknown imputation method {method!r}; known: {IMPUTATION_METHODS}")
    names = list(feature_names)
    require_columns(frame, [*KEY_COLUMNS, *names])
    if frame.index.has_duplicates:
        raise ValueError("impute needs a frame with a unique index (it reports excluded rows)")

    values = _numeric(frame, names)
    # TRICKY: ±inf is treated as missing. C3 makes ratios null when the denominator is <= 0,
    # so an infinity is an upstream bug, and no detector can score one.
    values = values.where(np.isfinite(values))
    if cohort_medians is None:
        cohort_medians = compute_cohort_medians(frame.assign(**values), names)

    # 1. Forward-fill inside each device in window_end order. A stable sort keeps the caller's
    #    order for equal timestamps; the result is put back in the original order.
    order = frame["window_end"].sort_values(kind="mergesort").index
    ordered = values.loc[order]
    by_device = ordered.groupby(frame.loc[order, "device_id"], sort=False, dropna=False)
    filled = by_device.ffill().loc[frame.index]

    # 2. Cohort medians, looked up per row; unknown cohorts or features give NaN and stay gaps.
    if filled.isna().to_numpy().any():
        # Keys normalised like the rows' cohort ids: {3: ...} and {"3": ...} (JSON) both work.
        table = pd.DataFrame.from_dict(
            {cohort_key(key): dict(row) for key, row in cohort_medians.items()}, orient="index"
        ).reindex(columns=names)
        keys = cohort_keys(frame["cohort_id"])
        medians = table.reindex(keys).astype("float64").set_axis(frame.index)
        filled = filled.fillna(medians)

    # 3. Exclude what no rule could fill.
    gaps = filled.isna().any(axis=1)
    kept = frame.loc[~gaps].copy()
    kept[names] = filled.loc[~gaps]
    return kept, frame.index[gaps.to_numpy()]


def _numeric(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Return the feature columns as float64; raise ValueError on a non-numeric column."""
    try:
        return frame[list(names)].astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"feature columns must be numeric: {exc}") from exc


def cohort_key(cohort_id: object) -> str | None:
    """Return the cohort id as the string key medians are stored under (JSON keys are strings)."""
    if pd.api.types.is_scalar(cohort_id) and pd.isna(cohort_id):
        return None
    # TRICKY: one null turns an integer column into floats; 3.0 must still be cohort "3".
    if isinstance(cohort_id, float | np.floating) and float(cohort_id).is_integer():
        return str(int(cohort_id))
    return str(cohort_id)


def cohort_keys(cohort_ids: pd.Series) -> np.ndarray:
    """Return `cohort_key` of each value as an object array (None for a missing cohort)."""
    # Not Series.map: pandas would turn the None keys back into NaN floats.
    return np.array([cohort_key(v) for v in cohort_ids.tolist()], dtype=object)
