"""The detector interface: one base class, one result type, one artifact format.

Django-free. A detector is fitted on imputed training windows (C4, `scoring.model_input`) and
scores windows into C5 columns (domain §2.6): `anomaly_score` in [0, 1] with 1 the most
anomalous, `anomaly_flag`, the threshold used, the top 5 contributing features and the
model's own raw score. Scores depend only on the fitted state and the row itself, never on
which other rows share the batch, so the same model and input always give the same score.
"""

from __future__ import annotations

import io
import json
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import sklearn

from scoring.model_input import require_columns

# Bump when the pickled state of any detector changes shape; old artifacts are then refused
# and the model is retrained (the paperless-ngx classifier does the same).
FORMAT_VERSION = 1
_MAGIC = b"FLEETMON-DETECTOR\n"
TOP_CONTRIBUTORS = 5
STATISTIC_KEYS: tuple[str, ...] = (
    "mean",
    "std",
    "min",
    "max",
    "p0_1",
    "p5",
    "p25",
    "p50",
    "p75",
    "p95",
    "p99_9",
    "null_rate",
)
_PERCENTILES = {"p0_1": 0.1, "p5": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "p99_9": 99.9}
# Caps contributor z values so an absurd input (1e300) still gives finite, JSON-safe numbers.
Z_CAP = 1e9


class NotFittedError(RuntimeError):
    """The detector has not been fitted (or loaded from a fitted artifact) yet."""


class InvalidScoreError(RuntimeError):
    """A detector produced a NaN or out-of-range score; nothing may be written (domain §4.5)."""


class ArtifactFormatError(ValueError):
    """Serialised detector bytes are not a detector artifact this code can read."""


@dataclass(frozen=True, eq=False)
class DetectorResult:
    """Scores for a batch of windows, one position per input row, in input order."""

    device_id: np.ndarray
    anomaly_score: np.ndarray
    anomaly_flag: np.ndarray
    threshold: float
    top_contributors: list[list[str]]
    contributor_scores: list[list[float]]
    raw_score: np.ndarray

    def __post_init__(self) -> None:
        """Refuse a result with misaligned columns or scores outside [0, 1]."""
        n = len(self.device_id)
        lengths = {
            len(self.anomaly_score),
            len(self.anomaly_flag),
            len(self.top_contributors),
            len(self.contributor_scores),
            len(self.raw_score),
        }
        if lengths != {n}:
            raise InvalidScoreError(f"result columns have different lengths: {n} and {lengths}")
        score = np.asarray(self.anomaly_score, dtype="float64")
        # Explicit checks rather than `assert`, which `python -O` would strip.
        if not np.isfinite(score).all() or (score < 0).any() or (score > 1).any():
            bad = int((~np.isfinite(score) | (score < 0) | (score > 1)).sum())
            raise InvalidScoreError(f"{bad} anomaly scores are NaN or outside [0, 1]")
        if not np.isfinite(np.asarray(self.raw_score, dtype="float64")).all():
            raise InvalidScoreError("raw scores contain NaN or infinity")
        if any(
            len(names) != len(values)
            for names, values in zip(self.top_contributors, self.contributor_scores, strict=True)
        ):
            raise InvalidScoreError("contributor names and scores are misaligned")
        flat = np.fromiter(chain.from_iterable(self.contributor_scores), dtype="float64")
        if not np.isfinite(flat).all():
            raise InvalidScoreError("contributor scores contain NaN or infinity")

    def __len__(self) -> int:
        """Return the number of scored windows."""
        return len(self.device_id)

    def to_frame(self) -> pd.DataFrame:
        """Return the result as a C5-shaped DataFrame (one row per scored window)."""
        return pd.DataFrame(
            {
                "device_id": self.device_id,
                "anomaly_score": self.anomaly_score,
                "anomaly_flag": self.anomaly_flag,
                "threshold_used": self.threshold,
                "top_contributors": self.top_contributors,
                "contributor_scores": self.contributor_scores,
                "raw_score": self.raw_score,
            }
        )


class Detector(ABC):
    """Fit on training windows, score windows; subclasses implement `_fit` and `_score`."""

    kind: ClassVar[str]
    # The feature window (minutes) it is trained on and scores: hourly runs score 15-minute
    # windows, the daily run 1440-minute ones.
    window_minutes: ClassVar[int] = 15
    default_threshold: ClassVar[float]
    default_features: ClassVar[tuple[str, ...]]
    default_params: ClassVar[dict[str, Any]]
    # Key columns a frame must carry besides the features.
    required_columns: ClassVar[tuple[str, ...]] = ("device_id",)
    # Whether NaN feature values are acceptable (only the rules fallback tolerates them).
    allows_missing: ClassVar[bool] = False
    # Whether `score` demands a prior `fit` (the rules fallback has nothing to learn).
    requires_fit: ClassVar[bool] = True
    # Whether contributor scores carry a sign (which way each feature moved).
    signed_contributors: ClassVar[bool] = False
    # Whether the first contributor tells one alert from another (D6). A trend's leading
    # quantity changes hour by hour while one fault develops, so its alerts dedup by device.
    dedup_by_contributor: ClassVar[bool] = True

    def __init__(
        self,
        *,
        feature_names: Sequence[str] | None = None,
        threshold: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Configure the detector; unknown params are refused rather than silently ignored."""
        names = tuple(self.default_features if feature_names is None else feature_names)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"feature_names must be non-empty and unique, got {names}")
        unknown = sorted(set(params or {}) - set(self.default_params))
        if unknown:
            raise ValueError(
                f"unknown params {unknown} for {self.kind}; known: {sorted(self.default_params)}"
            )
        self.feature_names: tuple[str, ...] = names
        self.threshold: float = float(self.default_threshold if threshold is None else threshold)
        self.params: dict[str, Any] = {**self.default_params, **(params or {})}
        self._training_statistics: dict[str, dict[str, float]] | None = None
        self._validate_config()

    def __repr__(self) -> str:
        """Show kind, feature count, threshold and whether the detector is fitted."""
        return (
            f"{type(self).__name__}(features={len(self.feature_names)}, "
            f"threshold={self.threshold}, fitted={self.fitted})"
        )

    @property
    def fitted(self) -> bool:
        """Return whether `fit` has run (training statistics exist)."""
        return self._training_statistics is not None

    def fit(self, frame: pd.DataFrame, *, null_rates: Mapping[str, float] | None = None) -> Self:
        """Fit on imputed training windows and record training statistics; return self.

        `null_rates` lets the caller record the pre-imputation null rate per feature: after
        imputation the frame has none, and the skew check (domain §3.5) needs the real one.
        """
        values = self._feature_values(frame)
        if len(values) == 0:
            raise ValueError(f"{self.kind}: cannot fit on an empty frame")
        statistics = feature_statistics(values, self.feature_names, null_rates)
        self._fit(frame, values)
        # Set last: a fit that raised must not leave a detector that claims to be fitted.
        self._training_statistics = statistics
        return self

    def score(self, frame: pd.DataFrame) -> DetectorResult:
        """Score each row of `frame` (usually each device's latest window)."""
        if self.requires_fit and not self.fitted:
            raise NotFittedError(f"{self.kind} detector is not fitted; call fit() or from_bytes()")
        values = self._feature_values(frame)
        raw, score, flag, z = self._score(frame, values)
        names, scores = self._contributors(z)
        return DetectorResult(
            device_id=frame["device_id"].to_numpy(dtype=object),
            anomaly_score=np.asarray(score, dtype="float64"),
            anomaly_flag=np.asarray(flag, dtype=bool),
            threshold=self.threshold,
            top_contributors=names,
            contributor_scores=scores,
            raw_score=np.asarray(raw, dtype="float64"),
        )

    def score_one(
        self, features: Mapping[str, float], *, device_id: str, cohort_id: str | None = None
    ) -> DetectorResult:
        """Score a single window given as a {feature: value} mapping."""
        row = {"device_id": device_id, "cohort_id": cohort_id, **features}
        return self.score(pd.DataFrame([row]))

    def training_statistics(self) -> dict[str, dict[str, float]]:
        """Return per-feature training statistics (domain §3.5), keyed by STATISTIC_KEYS."""
        if self._training_statistics is None:
            raise NotFittedError(f"{self.kind} detector is not fitted; it has no statistics")
        return {name: dict(stats) for name, stats in self._training_statistics.items()}

    def to_bytes(self) -> bytes:
        """Serialise the detector: magic line, JSON header line, then the pickled state."""
        header = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "fitted": self.fitted,
            # Informational: sklearn itself warns when unpickling under another version.
            "sklearn": sklearn.__version__,
        }
        buffer = io.BytesIO()
        buffer.write(_MAGIC)
        buffer.write(json.dumps(header, sort_keys=True).encode() + b"\n")
        # Pickle is acceptable only because artifacts are our own files, verified by SHA-256
        # in scoring.artifacts before they get here; never load bytes from elsewhere.
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Detector:
        """Load a detector written by `to_bytes`; refuse other format versions and kinds."""
        header = artifact_header(data)
        version = header.get("format_version")
        # The version is checked before unpickling, so an incompatible state is never loaded.
        if version != FORMAT_VERSION:
            raise ArtifactFormatError(
                f"detector artifact format version {version} is not supported "
                f"(this code reads version {FORMAT_VERSION}); retrain the model"
            )
        expected_kind = getattr(cls, "kind", None)
        if expected_kind is not None and header.get("kind") != expected_kind:
            raise ArtifactFormatError(
                f"artifact holds a {header.get('kind')!r} detector, not {expected_kind!r}"
            )
        body = data[len(_MAGIC) :].partition(b"\n")[2]
        detector = pickle.loads(body)
        if not isinstance(detector, cls) or detector.kind != header.get("kind"):
            raise ArtifactFormatError(f"artifact does not hold a {cls.__name__}")
        return detector

    def _validate_config(self) -> None:
        """Check threshold and params; subclasses extend this."""
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")

    def _feature_values(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the feature matrix (float64, training order); validate columns and values."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        require_columns(frame, [*self.required_columns, *self.feature_names])
        try:
            values = frame[list(self.feature_names)].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.kind}: feature columns must be numeric: {exc}") from exc
        if not self.allows_missing and not np.isfinite(values).all():
            bad_rows, bad_cols = np.nonzero(~np.isfinite(values))
            first = frame["device_id"].iloc[bad_rows[0]]
            raise ValueError(
                f"{self.kind}: {len(np.unique(bad_rows))} of {len(values)} rows have null or "
                f"infinite features (first: device {first!r}, "
                f"{self.feature_names[bad_cols[0]]!r}); impute them first "
                "(scoring.model_input.impute)"
            )
        return values

    def _contributors(self, z: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        """Return the top contributors of each row from its contribution matrix."""
        return top_contributors(z, self.feature_names)

    @abstractmethod
    def _fit(self, frame: pd.DataFrame, values: np.ndarray) -> None:
        """Learn the model state from validated training values."""

    @abstractmethod
    def _score(
        self, frame: pd.DataFrame, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (raw score, anomaly score, flag, per-feature contribution matrix)."""


def artifact_header(data: bytes) -> dict[str, Any]:
    """Return the JSON header of detector artifact bytes without unpickling anything."""
    if not data.startswith(_MAGIC):
        raise ArtifactFormatError("not a FleetMon detector artifact (bad magic bytes)")
    header_line = data[len(_MAGIC) :].partition(b"\n")[0]
    try:
        header = json.loads(header_line)
    except ValueError as exc:
        raise ArtifactFormatError("detector artifact header is not valid JSON") from exc
    if not isinstance(header, dict):
        raise ArtifactFormatError("detector artifact header is not a JSON object")
    return header


def std_floor(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Return std raised to max(1e-3, 5 % of |mean|) so z-scores never divide by ~0."""
    # fmax ignores NaN, so an undefined std (one window) becomes the floor, not NaN.
    return np.fmax(std, np.maximum(1e-3, 0.05 * np.abs(mean)))


def z_scores(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Return |values - mean| / floored std, capped at Z_CAP to stay finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.abs(values - mean) / std_floor(mean, std)
    # NaN inputs (rules fallback only) contribute nothing rather than poisoning the ranking.
    return np.nan_to_num(np.minimum(z, Z_CAP), nan=0.0)


def top_contributors(
    z: np.ndarray, feature_names: Sequence[str], k: int = TOP_CONTRIBUTORS
) -> tuple[list[list[str]], list[list[float]]]:
    """Return the k features with the largest contribution per row, largest first."""
    if z.shape[0] == 0:
        return [], []
    k = min(k, z.shape[1])
    # A stable sort on -z breaks ties by feature order, so the ranking is deterministic.
    order = np.argsort(-z, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(z, order, axis=1)
    names = np.asarray(feature_names, dtype=object)
    # tolist() builds the nested Python lists in C: ~10x faster than a comprehension at 100k rows.
    return names[order].tolist(), picked.tolist()


def feature_statistics(
    values: np.ndarray,
    feature_names: Sequence[str],
    null_rates: Mapping[str, float] | None = None,
) -> dict[str, dict[str, float]]:
    """Return per-feature training statistics; NaN values are ignored and counted as nulls."""
    null_rates = null_rates or {}
    unknown = sorted(set(null_rates) - set(feature_names))
    if unknown:
        raise ValueError(f"null_rates given for unknown features {unknown}")
    observed = np.isfinite(values)
    stats: dict[str, dict[str, float]] = {}
    for j, name in enumerate(feature_names):
        column = values[observed[:, j], j]
        null_rate = float(null_rates.get(name, 1.0 - observed[:, j].mean()))
        if column.size == 0:
            # TRICKY: an all-null column (rules fallback only) has no statistics: NaN, which
            # a JSON store must turn into null.
            stats[name] = {key: float("nan") for key in STATISTIC_KEYS} | {"null_rate": null_rate}
            continue
        # ddof=0: the same population std the z-score contributors divide by.
        entry = {
            "mean": float(column.mean()),
            "std": float(column.std()),
            "min": float(column.min()),
            "max": float(column.max()),
        }
        percentiles = np.percentile(column, list(_PERCENTILES.values()))
        entry |= {key: float(v) for key, v in zip(_PERCENTILES, percentiles, strict=True)}
        entry["null_rate"] = null_rate
        stats[name] = {key: entry[key] for key in STATISTIC_KEYS}
    return stats
