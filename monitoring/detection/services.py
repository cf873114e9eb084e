"""Run and store detection evaluations."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from django.utils import timezone

from monitoring.detection.replay import Progress, ReplayConfig, replay
from monitoring.models import DetectionEvaluation
from scoring.models import ModelVersion

logger = logging.getLogger(__name__)


def evaluation_run(
    *,
    config: ReplayConfig,
    requested_by: str,
    purpose: str = DetectionEvaluation.Purpose.SCORECARD,
    candidate: str = "",
    deploy: Sequence[ModelVersion] = (),
    progress: Progress | None = None,
) -> DetectionEvaluation:
    """Replay `config` and store its scorecard; a failed replay is stored as failed and
    re-raised, so nobody mistakes it for a result."""
    evaluation = DetectionEvaluation.objects.create(
        purpose=purpose,
        candidate=candidate,
        requested_by=requested_by,
        seed=config.seed,
        devices=config.devices,
        history_days=config.history_days,
        test_days=config.test_days,
        config=config.as_dict(),
    )
    started = time.perf_counter()
    try:
        result = replay(config, deploy=deploy, progress=progress)
    except Exception as exc:
        DetectionEvaluation.objects.filter(pk=evaluation.pk).update(
            status=DetectionEvaluation.Status.FAILED,
            finished_at=timezone.now(),
            duration_seconds=time.perf_counter() - started,
            error=f"{type(exc).__name__}: {exc}"[:4000],
        )
        raise
    summary = result.scorecard["summary"]
    targets = result.scorecard["targets"]
    evaluation.status = DetectionEvaluation.Status.SUCCEEDED
    evaluation.finished_at = timezone.now()
    evaluation.duration_seconds = round(time.perf_counter() - started, 1)
    evaluation.model_versions = result.model_versions
    evaluation.thresholds = result.thresholds
    evaluation.bootstrap = result.bootstrap
    evaluation.scorecard = result.scorecard
    evaluation.timings = result.timings
    if result.scratch_database:
        evaluation.config = {**evaluation.config, "scratch_database": result.scratch_database}
    evaluation.acute_recall = summary["acute_recall_in_time"]
    evaluation.gradual_recall = summary["gradual_recall_before_failure"]
    evaluation.gradual_lead_median_h = summary["gradual_lead_median_h"]
    evaluation.healthy_high_critical_per_device_day = summary[
        "healthy_high_critical_per_device_day"
    ]
    evaluation.d9_share = summary["d9_high_critical_no_fault_share"]
    evaluation.targets_met = sum(1 for t in targets if t["met"])
    evaluation.targets_measured = sum(1 for t in targets if t["met"] is not None)
    evaluation.save()
    logger.info(
        "detection evaluation %s: %s/%s targets met in %.0f s",
        evaluation.pk,
        evaluation.targets_met,
        evaluation.targets_measured,
        evaluation.duration_seconds,
    )
    return evaluation
