"""Train a model version from stored features: temporal split, validation, artifact, registry."""

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scoring.artifacts import artifact_save
from scoring.detectors.base import FORMAT_VERSION, Detector
from scoring.detectors.registry import detector_for
from scoring.model_input import compute_fill_values, impute, observed_features
from scoring.models import FeatureBaseline, ModelRole, ModelVersion, ModelVersionEvent
from scoring.selectors import training_features

logger = logging.getLogger(__name__)

# Domain §4.3: the cohort model scores per cohort; the others are fleet models.
GRANULARITY = {"cohort_isolation_forest": "cohort"}
BASELINE_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


class TrainingFailed(RuntimeError):
    """Training could not produce an acceptable candidate; the message says why."""


def model_train(
    *,
    kind: str,
    actor: str,
    now: datetime | None = None,
    lookback: timedelta | None = None,
    params: dict | None = None,
    threshold: float | None = None,
) -> ModelVersion:
    """Fit a new draft version of `kind` on its stored feature windows before `now`.

    1. Temporal split (domain §10.1): validation windows are the last
       FLEETMON_VALIDATION_HOURS; training windows end at least FLEETMON_TRAINING_GAP_HOURS
       before the validation windows start, never a random split.
    2. Rows are filtered by the [TRAIN] quality rules and imputed as model input (C4); a
       feature no training window has (a sensor nobody in the fleet reports) is left out,
       and one a cohort lacks gets the fleet median (`scoring.model_input`).
    3. The detector is fitted; it may flag at most FLEETMON_VALIDATION_MAX_RATE of the
       validation windows. A quiet model is not refused here: whether it still sees real
       faults is the regression set's known-anomaly gate (scoring.services.validation).
    4. The fitted detector is written as an artifact; the version, its training statistics
       and its feature baselines go into the registry as a draft, and the regression set
       (when built) is scored.
    """
    now = now or timezone.now()
    detector_class = detector_for(kind)
    window_minutes = detector_class.window_minutes
    lookback = lookback or timedelta(days=settings.FLEETMON_TRAINING_DAYS)
    validation_start = now - timedelta(hours=settings.FLEETMON_VALIDATION_HOURS)
    train_end = validation_start - timedelta(hours=settings.FLEETMON_TRAINING_GAP_HOURS)
    scale = window_minutes / 15  # the [TRAIN] limits are stated for 15-minute windows
    rows = training_features(
        minutes=window_minutes,
        start=now - lookback,
        end=now,
        min_completeness=0.7,
        min_readings=int(10 * scale),
        max_flagged=int(5 * scale),
    )
    train = rows[rows["window_end"] <= train_end]
    validation = rows[rows["window_start"] >= validation_start]
    minimum = settings.FLEETMON_TRAINING_MIN_ROWS
    if len(train) < minimum:
        raise TrainingFailed(
            f"only {len(train)} usable training windows of {window_minutes} min ending before "
            f"{train_end:%Y-%m-%d %H:%M}; need {minimum}"
        )
    features = _trainable_features(detector_class, train)
    detector = detector_class(feature_names=features, params=params, threshold=threshold)
    medians = compute_fill_values(train, features)
    train_input, _ = impute(train, features, cohort_medians=medians)
    if len(train_input) < minimum:
        raise TrainingFailed(
            f"only {len(train_input)} of {len(train)} training windows of {window_minutes} min "
            f"are complete after imputation; need {minimum}"
        )
    null_rates = {name: float(train[name].isna().mean()) for name in features}
    detector.fit(train_input, null_rates=null_rates)

    validation_rate = None
    if len(validation):
        validation_input, _ = impute(validation, features, cohort_medians=medians)
        if len(validation_input):
            result = detector.score(validation_input)
            validation_rate = float(np.mean(result.anomaly_flag))
    limit = settings.FLEETMON_VALIDATION_MAX_RATE
    if kind != "rules_fallback" and validation_rate is not None and validation_rate > limit:
        raise TrainingFailed(
            f"validation anomaly rate {validation_rate:.1%} is above the {limit:.1%} limit "
            "(FLEETMON_VALIDATION_MAX_RATE): the model flags too many healthy windows"
        )
    version = _register(
        detector=detector,
        actor=actor,
        window_minutes=window_minutes,
        train=train_input,
        medians=medians,
        window=(train_input["window_start"].min(), train_input["window_end"].max()),
        validation_rate=validation_rate,
        now=now,
    )
    from scoring.services.validation import regression_evaluate, regression_frame

    if not regression_frame().empty:
        regression_evaluate(version=version)
    return version


def _trainable_features(detector_class: type[Detector], train: pd.DataFrame) -> list[str]:
    """The detector's features that some training window has; fail when none is left."""
    features = list(detector_class.default_features)
    if detector_class.allows_missing:
        return features  # the rules fallback scores NaN as "rule not fired"
    observed = observed_features(train, features)
    if not observed:
        raise TrainingFailed(f"none of the {len(features)} features has a value in training")
    dropped = [name for name in features if name not in observed]
    if dropped:
        logger.info(
            "%s: leaving out %d features no training window has: %s",
            detector_class.kind,
            len(dropped),
            dropped,
        )
    return observed


def _new_version(detector, **fields) -> ModelVersion:
    """Write the detector's artifact and create its registry row: `<kind>_vN`, 1.N.0."""
    number = ModelVersion.objects.filter(kind=detector.kind).count() + 1
    model_id = f"{detector.kind}_v{number}"
    path, digest = artifact_save(name=model_id, payload=detector.to_bytes())
    return ModelVersion.objects.create(
        model_id=model_id,
        kind=detector.kind,
        version=f"1.{number}.0",
        feature_names=list(detector.feature_names),
        threshold=detector.threshold,
        params=detector.params,
        artifact_path=path,
        artifact_sha256=digest,
        artifact_format_version=FORMAT_VERSION,
        **fields,
    )


def _register(*, detector, actor, window_minutes, train, medians, window, validation_rate, now):
    with transaction.atomic():
        version = _new_version(
            detector,
            role=ModelRole.DRAFT,
            granularity=GRANULARITY.get(detector.kind, "fleet"),
            window_minutes=window_minutes,
            training_statistics=detector.training_statistics(),
            cohort_medians=medians,
            training_window_start=window[0],
            training_window_end=window[1],
            training_rows=len(train),
            training_devices=train["device_id"].nunique(),
            created_by=actor,
        )
        FeatureBaseline.objects.bulk_create(_baselines(version, train, now), batch_size=5000)
        ModelVersionEvent.objects.create(
            model_version=version,
            action="trained",
            to_role=ModelRole.DRAFT,
            actor=actor,
            details={"validation_anomaly_rate": validation_rate, "training_rows": len(train)},
        )
    logger.info(
        "trained %s on %d windows (validation rate %s)",
        version.model_id,
        len(train),
        validation_rate,
    )
    return version


def _baselines(version: ModelVersion, frame: pd.DataFrame, now: datetime) -> list[FeatureBaseline]:
    """Fleet and cohort baselines of every feature; device baselines for per-device models."""
    features = version.feature_names
    groups: list[tuple[str, str, str, pd.DataFrame]] = [("fleet", "", "", frame)]
    groups += [("cohort", c, "", g) for c, g in frame.groupby("cohort_id")]
    if version.kind == "statistical_baseline":  # its baselines are per device
        groups += [("device", "", d, g) for d, g in frame.groupby("device_id")]
    rows = []
    for granularity, cohort, device, group in groups:
        values = group[features]
        quantiles = values.quantile(list(BASELINE_QUANTILES.values()))
        means, stds = values.mean(), values.std()
        for name in features:
            rows.append(
                FeatureBaseline(
                    model_version=version,
                    feature_name=name,
                    granularity=granularity,
                    cohort_id=cohort,
                    device_id=device,
                    baseline_mean=_finite(means[name]),
                    baseline_std=_finite(stds[name]),
                    computed_at=now,
                    training_window_start=version.training_window_start,
                    training_window_end=version.training_window_end,
                    **{
                        f"baseline_{label}": _finite(quantiles.loc[q, name])
                        for label, q in BASELINE_QUANTILES.items()
                    },
                )
            )
    return rows


def _finite(value) -> float | None:
    return float(value) if pd.notna(value) and np.isfinite(value) else None


def rules_fallback_ensure() -> ModelVersion:
    """Make sure the rules fallback is registered in production: it needs no training."""
    current = ModelVersion.objects.filter(kind="rules_fallback", role=ModelRole.PRODUCTION).first()
    if current is not None and current.artifact_path:
        return current
    with transaction.atomic():
        version = _new_version(
            detector_for("rules_fallback")(), role=ModelRole.PRODUCTION, promoted_at=timezone.now()
        )
        ModelVersionEvent.objects.create(
            model_version=version,
            action="registered",
            to_role=ModelRole.PRODUCTION,
            actor="system",
            reason="the rules fallback (domain §4.5) needs no training",
        )
    return version


def feature_baselines_refresh(
    *, version: ModelVersion, actor: str, reason: str, now: datetime
) -> int:
    """Recompute `version`'s feature baselines from the latest stored windows, keeping the
    fitted model: the answer to a seasonal drift (domain §5.7, §5.2). Returns the rows."""
    scale = version.window_minutes / 15
    start = now - timedelta(days=settings.FLEETMON_TRAINING_DAYS)
    rows = training_features(
        minutes=version.window_minutes,
        start=start,
        end=now,
        min_completeness=0.7,
        min_readings=int(10 * scale),
        max_flagged=int(5 * scale),
    )
    if rows.empty:
        raise TrainingFailed(f"no usable {version.window_minutes}-minute windows since {start}")
    baselines = _baselines(version, rows, now)
    with transaction.atomic():
        FeatureBaseline.objects.filter(model_version=version).delete()
        FeatureBaseline.objects.bulk_create(baselines, batch_size=5000)
        ModelVersionEvent.objects.create(
            model_version=version,
            action="baseline_updated",
            from_role=version.role,
            to_role=version.role,
            actor=actor,
            reason=reason,
            details={"windows": len(rows), "since": start.isoformat(), "until": now.isoformat()},
        )
    return len(baselines)
