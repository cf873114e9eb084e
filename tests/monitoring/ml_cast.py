"""Builders for model-layer tests and dashboards: a two-cohort fleet, model versions
without artifacts, crafted scoring runs and their scores."""

import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.utils import timezone

from fleetmon.registry.models import Cohort, Device, Site
from monitoring.data_quality import data_quality_daily_summary, data_quality_hour
from monitoring.model_health import model_health_compute
from monitoring.models import DriftCheck, FeatureDriftMetric, TrainingServingSkew
from quality.ingest import ingest_messages
from scoring.models import ModelScore, ModelVersion, ModelVersionEvent, ScoringRun
from scoring.services.validation import canary_evaluate
from tests.conftest import message

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
N = 100  # devices: 60 of WF-5HP/temperate in US-W, 40 of DC-2HP/cold in US-E
COLD = "DC-2HP/cold"


def make_fleet() -> list[Device]:
    devices = []
    for model, zone, region, count in (
        ("WF-5HP", "temperate", "US-W", 60),
        ("DC-2HP", "cold", "US-E", 40),
    ):
        site = Site.objects.create(
            site_id=f"SITE-{region}-0001", site_name=region, region=region, climate_zone=zone
        )
        cohort = Cohort.objects.create(
            cohort_id=f"{model}/{zone}", equipment_model=model, climate_zone=zone
        )
        devices += [
            Device.objects.create(
                device_id=f"REF-{region}-{i:06d}",
                site=site,
                cohort=cohort,
                region=region,
                equipment_model=model,
                install_date=date(2022, 1, 1),
                firmware_version="4.2.0",
            )
            for i in range(count)
        ]
    return devices


def version(kind, number=1, *, role="production", params=None):
    return ModelVersion.objects.create(
        model_id=f"{kind}_v{number}",
        kind=kind,
        version=f"1.{number}.0",
        role=role,
        feature_names=["temp_ambient_mean"],
        threshold=0.7,
        params={"contamination": 0.05} if params is None else params,
        artifact_path="unused",
        artifact_sha256="0" * 64,
        artifact_format_version=1,
    )


def run_at(end=T, *, device_id=""):
    return ScoringRun.objects.create(
        trigger="hourly",
        window_minutes=15,
        window_end=end,
        device_id=device_id,
        status="succeeded",
        finished_at=end + timedelta(minutes=3),
    )


def score(run, model, fleet, scores, flags=None):
    """Scores of `model` for the first len(scores) devices; flags default to score > 0.7."""
    flags = [s > 0.7 for s in scores] if flags is None else flags
    ModelScore.objects.bulk_create(
        ModelScore(
            score_id=uuid.uuid4(),
            device_id=d.device_id,
            window_start=run.window_end - timedelta(minutes=15),
            window_end=run.window_end,
            model_id=model.model_id,
            model_version=model.version,
            granularity="fleet",
            deployment_role=model.role,
            anomaly_score=float(s),
            anomaly_flag=bool(f),
            threshold_used=0.7,
            scored_at=run.window_end,
            sensor_completeness=1.0,
            run_id=run.pk,
        )
        for d, s, f in zip(fleet, scores, flags, strict=False)
    )


def spread(n, mean=0.3, half_width=0.2, flagged=0):
    """n scores evenly spread around `mean`, the `flagged` highest set above 0.7."""
    values = list(np.linspace(mean - half_width, mean + half_width, n))
    return [0.9 if i >= n - flagged else v for i, v in enumerate(values)]


def seed_dashboards():
    """A day of monitoring results: two production models and a canary scored twice, an
    hour of readings, a drift window, a skew check, a daily summary."""
    now = timezone.now()
    fleet = make_fleet()
    forest, baseline = version("isolation_forest"), version("statistical_baseline")
    canary = version("isolation_forest", 2, role="canary")
    ModelVersionEvent.objects.create(
        model_version=canary, action="trained", to_role="draft", actor="ml_engineer"
    )
    for hours_ago, flagged in ((30, 5), (1, 12)):
        run = run_at(now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago))
        score(run, forest, fleet, spread(N, flagged=flagged))
        score(run, baseline, fleet, spread(N, flagged=4))
        score(run, canary, fleet, spread(N, mean=0.35, flagged=6))
        canary_evaluate(run=run)
        model_health_compute(run_id=run.pk, now=now)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    ingest_messages(
        messages=[
            message(d.device_id, hour + timedelta(minutes=k), values={"humidity": None})
            if i < 20
            else message(d.device_id, hour + timedelta(minutes=k))
            for i, d in enumerate(fleet[:40])
            for k in (5, 35)
        ],
        received_at=hour + timedelta(minutes=50),
    )
    data_quality_hour(hour=hour, now=now)
    data_quality_daily_summary(day=(now - timedelta(days=1)).date(), now=now)
    drift_window(now)
    TrainingServingSkew.objects.create(
        computed_at=now,
        window_end=hour,
        model_id=forest.model_id,
        check_kind="mean_shift",
        feature="temp_ambient_mean",
        training_value=20.0,
        serving_value=26.0,
        statistic=3.0,
        threshold=2.0,
        breached=True,
        serving_rows=400,
    )
    return {"now": now, "fleet": fleet, "forest": forest, "canary": canary, "run": run}


def drift_window(now):
    end = now.replace(minute=0, second=0, microsecond=0)
    common = {"window_start": end - timedelta(hours=1), "window_end": end, "window_minutes": 60}
    DriftCheck.objects.create(
        computed_at=now,
        scope="fleet",
        features_total=3,
        features_exceeded=1,
        features_drifting=1,
        drifting_share=1 / 3,
        pipeline_suspect=True,
        baseline_rows=1000,
        current_rows=100,
        **common,
    )
    for name, ks in (("humidity_mean", 0.05), ("temp_ambient_mean", 0.4), ("reading_count", 0.2)):
        FeatureDriftMetric.objects.create(
            computed_at=now,
            scope="fleet",
            feature_name=name,
            ks_statistic=ks,
            ks_p_value=1e-5,
            psi_value=ks * 2,
            drift_severity="significant" if ks * 2 > 0.2 else "none",
            ks_exceeded=ks > 0.1,
            drifting=name == "temp_ambient_mean",
            n_baseline=1000,
            n_current=100,
            **common,
        )
