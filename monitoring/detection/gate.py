"""The detection gate (a D11 gate beside regression, canary and shadow): a candidate whose
scorecard is worse than production's on a fixed seed may not be promoted.

Both replays deploy fitted versions from the live registry on the same simulated fleet:
production's versions of every kind, then the same set with the candidate in its kind's
place. The fleet, faults, events and streaming rules are identical, so the difference in
the scorecards is the candidate's doing. The report is stored on the candidate as
`validation["detection"]`, where `scoring.services.validation.promotion_blockers` reads it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring.detection.replay import ReplayConfig
from monitoring.detection.services import evaluation_run
from monitoring.models import DetectionEvaluation
from scoring.models import ModelRole, ModelVersion

logger = logging.getLogger(__name__)

NOT_GATED = ("rules_fallback",)  # fixed limits: nothing to compare


def gate_config() -> ReplayConfig:
    """The fixed replay every candidate and production are compared on."""
    return ReplayConfig(
        devices=settings.FLEETMON_DETECTION_GATE_DEVICES,
        history_days=settings.FLEETMON_DETECTION_GATE_HISTORY_DAYS,
        test_days=settings.FLEETMON_DETECTION_GATE_TEST_DAYS,
        seed=settings.FLEETMON_DETECTION_GATE_SEED,
    )


def detection_gate(*, version: ModelVersion, requested_by: str = "system") -> dict[str, Any]:
    """Replay production and the candidate on the gate's fleet, compare, store the report."""
    reference = ModelVersion.objects.filter(kind=version.kind, role=ModelRole.PRODUCTION).first()
    if version.kind in NOT_GATED or reference is None or reference.pk == version.pk:
        report = {
            "passed": True,
            "reference": None,
            "note": "nothing to compare with: first of its kind, or a fixed-rule model",
        }
        return _store(version, report)
    production = list(
        ModelVersion.objects.filter(role=ModelRole.PRODUCTION).exclude(kind__in=NOT_GATED)
    )
    with_candidate = [version if v.kind == version.kind else v for v in production]
    config = gate_config()
    runs = {}
    for purpose, deployed in (
        (DetectionEvaluation.Purpose.GATE_PRODUCTION, production),
        (DetectionEvaluation.Purpose.GATE_CANDIDATE, with_candidate),
    ):
        runs[purpose] = evaluation_run(
            config=config,
            requested_by=requested_by,
            purpose=purpose,
            candidate=version.model_id,
            deploy=deployed,
        )
    before = runs[DetectionEvaluation.Purpose.GATE_PRODUCTION].scorecard
    after = runs[DetectionEvaluation.Purpose.GATE_CANDIDATE].scorecard
    failures = scorecard_regressions(production=before, candidate=after)
    report = {
        "passed": not failures,
        "failures": failures,
        "reference": reference.model_id,
        "seed": config.seed,
        "evaluations": [e.pk for e in runs.values()],
        "production": _headline(before),
        "candidate": _headline(after),
    }
    logger.info("detection gate for %s: %s", version.model_id, failures or "passed")
    return _store(version, report)


def scorecard_regressions(*, production: dict, candidate: dict) -> list[str]:
    """Why the candidate's scorecard is worse than production's (empty: it is not)."""
    failures = []
    before, after = _headline(production), _headline(candidate)
    if after["detected"] < before["detected"]:
        failures.append(
            f"detects {after['detected']} of {after['faults']} faults in time, "
            f"production {before['detected']}"
        )
    tolerance = settings.FLEETMON_DETECTION_GATE_FALSE_ALARM_TOLERANCE
    if _value(after["false_alarms"]) > _value(before["false_alarms"]) + tolerance:
        failures.append(
            f"{after['false_alarms']} HIGH/CRITICAL alerts per healthy device-day, "
            f"production {before['false_alarms']} (tolerance {tolerance:g})"
        )
    lead_before, lead_after = before["gradual_lead_median_h"], after["gradual_lead_median_h"]
    slack = settings.FLEETMON_DETECTION_GATE_LEAD_TOLERANCE_HOURS
    if lead_before is not None and (lead_after is None or lead_after < lead_before - slack):
        failures.append(
            f"median lead before failure {lead_after} h, production {lead_before} h "
            f"(tolerance {slack:g} h)"
        )
    return failures


def _headline(card: dict) -> dict[str, Any]:
    summary = card["summary"]
    return {
        "faults": sum(r["devices"] for r in card["faults"]),
        "detected": sum(r["detected"] for r in card["faults"]),
        "false_alarms": summary["healthy_high_critical_per_device_day"],
        "d9_share": summary["d9_high_critical_no_fault_share"],
        "gradual_lead_median_h": summary["gradual_lead_median_h"],
    }


def _value(rate: float | None) -> float:
    return rate or 0.0


def _store(version: ModelVersion, report: dict[str, Any]) -> dict[str, Any]:
    report["evaluated_at"] = timezone.now().isoformat()
    with transaction.atomic():
        fresh = ModelVersion.objects.select_for_update().get(pk=version.pk)
        fresh.validation = {**fresh.validation, "detection": report}
        fresh.save(update_fields=["validation"])
    version.validation = fresh.validation
    return report
