"""The continual-learning loop after a trigger: retrain → validate → promote or escalate
(seed page, domain §5.8, D11, D15).

1. `retrain_start`: train a candidate of the trigger's model kind on the latest features;
   it is scored on the fixed regression set (D11) and becomes the canary, so the next
   scoring runs score it beside production (canary scores never alert). A seasonal drift
   only refreshes the production version's feature baselines.
2. `candidate_review`: once the candidate has its canary reports, promote it automatically
   when the regression and every canary run passed (after FLEETMON_RETRAIN_CANARY_RUNS
   runs), else reject it with the reasons and tell the ML engineers.

Both are idempotent and resumable: the trigger row's status says where the loop is, and
each step claims the row before acting, so a task that runs twice (or after a crash)
repeats nothing and skips nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring.models import RetrainingTrigger, TriggerAction, TriggerStatus
from monitoring.retraining import notify
from scoring.models import ModelRole, ModelVersion, ScoringRun
from scoring.services.registry import RegistryError, model_reject, model_set_role
from scoring.services.training import TrainingFailed, feature_baselines_refresh, model_train
from scoring.services.validation import production_of, promotion_blockers, regression_evaluate

logger = logging.getLogger(__name__)

ACTOR = "retraining-loop"
DEFAULT_CANARY_RUNS = 2  # [MS]: a canary lasts 1-3 runs
DEFAULT_CANARY_TIMEOUT_HOURS = 48
# A claimed retrain whose row has not moved for this long lost its worker (training's own
# time limit is an hour): it may be claimed again.
STALE_CLAIM = timedelta(minutes=70)
CANDIDATE_ROLES = (ModelRole.DRAFT, ModelRole.CANARY, ModelRole.SHADOW)


def canary_runs_needed() -> int:
    return int(getattr(settings, "FLEETMON_RETRAIN_CANARY_RUNS", DEFAULT_CANARY_RUNS))


def canary_timeout() -> timedelta:
    hours = getattr(settings, "FLEETMON_RETRAIN_CANARY_TIMEOUT_HOURS", DEFAULT_CANARY_TIMEOUT_HOURS)
    return timedelta(hours=hours)


# ---------------------------------------------------------------- retrain


def _claim(trigger_id: int) -> bool:
    """Move a fired (or abandoned) retrain to `retraining`; False when another has it."""
    abandoned = Q(status=TriggerStatus.RETRAINING, updated_at__lt=timezone.now() - STALE_CLAIM)
    return bool(
        RetrainingTrigger.objects.filter(
            Q(status=TriggerStatus.FIRED) | abandoned,
            pk=trigger_id,
            finished_at__isnull=True,
            candidate__isnull=True,
            action__in=(TriggerAction.RETRAIN, TriggerAction.BASELINE_UPDATE),
        ).update(status=TriggerStatus.RETRAINING, updated_at=timezone.now())
    )


def retrain_start(*, trigger_id: int, now: datetime) -> RetrainingTrigger | None:
    """Train the trigger's candidate and put it in canary; None when the trigger is gone."""
    if not _claim(trigger_id):
        logger.info("trigger #%s is not waiting for a retrain; nothing to do", trigger_id)
        return RetrainingTrigger.objects.filter(pk=trigger_id).first()
    trigger = RetrainingTrigger.objects.get(pk=trigger_id)
    if trigger.action == TriggerAction.BASELINE_UPDATE:
        return _baseline_update(trigger, now)
    try:
        candidate = model_train(
            kind=trigger.model_kind,
            actor=ACTOR,
            now=now,
            threshold=trigger.options.get("threshold"),
        )
    except Exception as exc:  # noqa: BLE001 - escalated to a person, not retried forever
        if not isinstance(exc, TrainingFailed):
            logger.exception("trigger #%s: training %s crashed", trigger.pk, trigger.model_kind)
        _finish(trigger, TriggerStatus.ESCALATED, [f"training failed: {exc}"])
        notify.retrain_failed(
            trigger, monitor="retrain_failed", title=f"Retraining {trigger.model_kind} failed"
        )
        return trigger
    if "regression" not in candidate.validation:  # no regression set yet: say so, as a failure
        regression_evaluate(version=candidate)
    current = production_of(trigger.model_kind)
    reason = f"candidate of retraining trigger #{trigger.pk} ({trigger.trigger_kind})"
    if current is not None:
        # Canary even when the regression failed: the ML engineers get both reports.
        try:
            model_set_role(version=candidate, role=ModelRole.CANARY, actor=ACTOR, reason=reason)
        except RegistryError as exc:
            model_reject(version=candidate, actor=ACTOR, reason=str(exc), details={})
            trigger.candidate = candidate
            trigger.save(update_fields=["candidate", "updated_at"])
            _finish(trigger, TriggerStatus.REJECTED, [f"could not canary it: {exc}"])
            notify.retrain_failed(
                trigger, monitor="retrain_rejected", title=f"Canary of {candidate.model_id} failed"
            )
            return trigger
    trigger.candidate = candidate
    trigger.status = TriggerStatus.CANDIDATE_READY
    trigger.canary_since = timezone.now()
    trigger.outcome_reasons = [
        f"trained {candidate.model_id} on {candidate.training_rows} windows"
        + (f"; canary beside {current.model_id}" if current else "; first of its kind")
    ]
    trigger.save(
        update_fields=["candidate", "status", "canary_since", "outcome_reasons", "updated_at"]
    )
    logger.info("trigger #%s: candidate %s ready", trigger.pk, candidate.model_id)
    return trigger


def _baseline_update(trigger: RetrainingTrigger, now: datetime) -> RetrainingTrigger:
    current = production_of(trigger.model_kind)
    if current is None:
        _finish(trigger, TriggerStatus.SKIPPED, [f"no production {trigger.model_kind} to update"])
        return trigger
    try:
        rows = feature_baselines_refresh(
            version=current,
            actor=ACTOR,
            reason=f"seasonal drift, retraining trigger #{trigger.pk}",
            now=now,
        )
    except TrainingFailed as exc:
        _finish(trigger, TriggerStatus.ESCALATED, [f"baseline update failed: {exc}"])
        notify.retrain_failed(
            trigger, monitor="retrain_failed", title=f"Baseline update of {current.model_id} failed"
        )
        return trigger
    _finish(
        trigger,
        TriggerStatus.BASELINE_UPDATED,
        [f"seasonal drift: {rows} feature baselines of {current.model_id} refreshed, model kept"],
    )
    return trigger


def _finish(trigger: RetrainingTrigger, status: str, reasons: list[str]) -> None:
    trigger.status = status
    trigger.outcome_reasons = [*trigger.outcome_reasons, *reasons]
    trigger.finished_at = timezone.now()
    trigger.save(update_fields=["status", "outcome_reasons", "finished_at", "updated_at"])
    logger.info("trigger #%s %s: %s", trigger.pk, status, "; ".join(reasons))


# ---------------------------------------------------------------- review


def canary_reports(version: ModelVersion, reference: ModelVersion) -> list[dict]:
    """The canary reports of `version` against `reference`, one per scoring run, oldest
    first (canary_evaluate stores them on each run)."""
    runs = ScoringRun.objects.filter(comparison__has_key=version.model_id).order_by(
        "window_end", "pk"
    )
    reports = []
    for run in runs:
        report = run.comparison[version.model_id]
        if report.get("reference") == reference.model_id:
            reports.append({**report, "run_id": run.pk, "window_end": run.window_end.isoformat()})
    return reports


def candidate_review(*, trigger_id: int) -> RetrainingTrigger | None:
    """Promote or reject the trigger's candidate once its canary runs say enough."""
    with transaction.atomic():
        trigger = (
            RetrainingTrigger.objects.select_for_update(of=("self",))
            .select_related("candidate")
            .filter(pk=trigger_id)
            .first()
        )
        if trigger is None or trigger.status != TriggerStatus.CANDIDATE_READY:
            return trigger
        candidate = trigger.candidate
        if candidate is None:
            _finish(trigger, TriggerStatus.ESCALATED, ["the candidate version was deleted"])
            return trigger
        if candidate.role not in CANDIDATE_ROLES:  # a person decided first
            by_hand = candidate.events.order_by("-at").first()
            who = by_hand.actor if by_hand else "someone"
            status = (
                TriggerStatus.PROMOTED
                if candidate.role == ModelRole.PRODUCTION
                else TriggerStatus.REJECTED
            )
            _finish(trigger, status, [f"{candidate.model_id} set {candidate.role} by {who}"])
            return trigger
        verdict = _verdict(trigger, candidate)
        if verdict is None:
            return trigger
        promote, reasons, details = verdict
        if promote:
            try:
                model_set_role(
                    version=candidate,
                    role=ModelRole.PRODUCTION,
                    actor=ACTOR,
                    reason=f"retraining trigger #{trigger.pk} ({trigger.trigger_kind}:"
                    f" {trigger.summary}); " + "; ".join(reasons),
                )
            except RegistryError as exc:
                promote, reasons = False, [str(exc)]
        if promote:
            _finish(trigger, TriggerStatus.PROMOTED, reasons)
        else:
            model_reject(
                version=candidate,
                actor=ACTOR,
                reason="; ".join(reasons),
                details={"trigger_id": trigger.pk, "failures": reasons, **details},
            )
            _finish(trigger, TriggerStatus.REJECTED, reasons)
    # Told after commit: nobody hears of a decision that rolled back.
    if trigger.status == TriggerStatus.PROMOTED:
        notify.retrain_succeeded(trigger)
    else:
        notify.retrain_failed(
            trigger,
            monitor="retrain_rejected",
            title=f"Retrained {trigger.model_kind} candidate {candidate.model_id} rejected",
        )
    return trigger


def _verdict(
    trigger: RetrainingTrigger, candidate: ModelVersion
) -> tuple[bool, list[str], dict] | None:
    """(promote?, reasons, details), or None to wait for more canary runs."""
    reference = production_of(candidate.kind)
    reports = canary_reports(candidate, reference) if reference is not None else []
    timed_out = timezone.now() - trigger.canary_since > canary_timeout()
    needed = canary_runs_needed()
    details = {
        "canary_runs": [{k: r[k] for k in ("run_id", "passed", "failures")} for r in reports]
    }
    if reference is not None and not reports:
        if timed_out:
            return False, [f"no canary result within {canary_timeout()}"], details
        return None
    failures = []
    regression = candidate.validation.get("regression") or {}
    if not regression.get("passed"):
        failures.append("regression: " + "; ".join(regression.get("failures") or ["not scored"]))
    failures += [
        f"canary run {r['run_id']}: " + "; ".join(r["failures"]) for r in reports if not r["passed"]
    ]
    detection = candidate.validation.get("detection")
    if reference is not None and settings.FLEETMON_DETECTION_GATE_ENABLED:
        if detection is None:
            if timed_out:
                failures.append(f"no detection gate result within {canary_timeout()}")
            elif not failures:
                return None  # the gate's replays take minutes; wait for them
        elif not detection["passed"]:
            failures.append("detection: " + "; ".join(detection["failures"]))
    if failures:
        return False, failures, details
    if reference is not None and len(reports) < needed:
        if timed_out:
            return False, [f"only {len(reports)} of {needed} canary runs in time"], details
        return None
    blockers = promotion_blockers(version=candidate)
    if blockers:
        return False, blockers, details
    if reference is None:
        return True, ["passed regression; first production version of its kind"], details
    passed = f"passed regression and {len(reports)} canary run(s) against {reference.model_id}"
    return True, [passed], details


def reviews_due() -> list[int]:
    return list(
        RetrainingTrigger.objects.filter(status=TriggerStatus.CANDIDATE_READY).values_list(
            "pk", flat=True
        )
    )


def retrains_to_resume() -> list[int]:
    """Retrains whose task was lost (broker trouble) or whose worker died mid-training."""
    wall = timezone.now()
    return list(
        RetrainingTrigger.objects.filter(
            Q(status=TriggerStatus.FIRED, updated_at__lt=wall - timedelta(minutes=10))
            | Q(status=TriggerStatus.RETRAINING, updated_at__lt=wall - STALE_CLAIM),
            action__in=(TriggerAction.RETRAIN, TriggerAction.BASELINE_UPDATE),
            finished_at__isnull=True,
            candidate__isnull=True,
        ).values_list("pk", flat=True)
    )
