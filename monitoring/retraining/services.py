"""Evaluate the retraining triggers and record what fired (domain §5.7, D15).

`triggers_evaluate` runs the checks, writes one `retraining_triggers` row per firing with
its evidence, and returns the rows whose retrain (or baseline update) must start. A
condition that persists fires once: a trigger kind has at most one open row per model kind,
and an alert-ML trigger stays open until its condition clears.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from monitoring import triggers as checks
from monitoring.models import RetrainingTrigger, TriggerAction, TriggerKind, TriggerStatus
from monitoring.retraining import notify, readers
from monitoring.triggers import Finding, Limits
from scoring.detectors.registry import DETECTORS

logger = logging.getLogger(__name__)

ALL_MODELS = "all"
RETRAIN_ACTIONS = (TriggerAction.RETRAIN, TriggerAction.BASELINE_UPDATE)
SKIP_RECORD_EVERY = timedelta(hours=20)  # a skipped firing is recorded at most once a day
RETRAINABLE_KINDS = tuple(sorted(k for k in DETECTORS if k not in readers.UNTRAINED_KINDS))


class ChecksFailed(RuntimeError):
    """Some checks raised; `started` holds the triggers the others fired."""

    def __init__(self, message: str, started: list) -> None:
        super().__init__(message)
        self.started = started


class RetrainRefused(ValueError):
    """A manual retrain that cannot start; the message says why."""


def limits_from_settings() -> Limits:
    """The trigger limits, each overridable by a FLEETMON_RETRAIN_<FIELD> setting."""
    return Limits(
        **{
            f.name: getattr(settings, f"FLEETMON_RETRAIN_{f.name.upper()}")
            for f in fields(Limits)
            if hasattr(settings, f"FLEETMON_RETRAIN_{f.name.upper()}")
        }
    )


# ---------------------------------------------------------------- the checks


def _feature_drift(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    for version in readers.production_versions():
        days = readers.drift_days(
            window_minutes=limits.drift_window_minutes,
            since=readers.trained_until(version.kind),
            now=now,
        )
        # A drift read days ago says nothing about today.
        stale = timedelta(minutes=limits.drift_window_minutes, days=1)
        if days and now - days[-1].window_end > stale:
            days = []
        seasonal = bool(days) and readers.drift_seen_last_year(
            window_minutes=limits.drift_window_minutes, around=days[-1].window_end, limits=limits
        )
        yield version.kind, checks.feature_drift_check(days, limits=limits, seasonal=seasonal)


def _anomaly_rate(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    for version in readers.production_versions():
        rates = readers.production_run_rates(version=version, runs=limits.rate_runs, now=now)
        finding = checks.anomaly_rate_check(
            rates, target=readers.contamination_target(version, limits), limits=limits
        )
        finding.evidence["model_id"] = version.model_id
        yield version.kind, finding


def _agreement(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    runs = readers.daily_run_agreement(runs=limits.agreement_runs, now=now)
    yield ALL_MODELS, checks.agreement_check(runs, limits=limits)


def _fp_spike(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    counts = readers.false_positive_counts(since=now - timedelta(days=limits.fp_days), until=now)
    yield ALL_MODELS, checks.fp_spike_check(limits=limits, **counts)


def _fleet_change(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    for version in readers.production_versions():
        counts = readers.fleet_counts(version=version, now=now, days=limits.fleet_new_days)
        yield (
            version.kind,
            checks.fleet_change_check(limits=limits, model_id=version.model_id, **counts),
        )


def _calendar(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    for version in readers.production_versions():
        yield (
            version.kind,
            checks.calendar_check(
                kind=version.kind,
                last_retrain=readers.last_retrain(version.kind),
                now=now,
                limits=limits,
            ),
        )


def _hit_rate(now: datetime, limits: Limits) -> Iterable[tuple[str, Finding]]:
    days, delay = (
        timedelta(days=limits.hit_rate_days),
        timedelta(days=limits.hit_rate_label_delay_days),
    )
    end = now - delay  # newer alerts have not had the time to lead to maintenance
    recent = readers.hit_counts(
        start=end - days, end=end, follow_days=limits.hit_rate_label_delay_days
    )
    previous = readers.hit_counts(
        start=end - 2 * days, end=end - days, follow_days=limits.hit_rate_label_delay_days
    )
    yield ALL_MODELS, checks.hit_rate_check(recent=recent, previous=previous, limits=limits)


CHECKS = {
    TriggerKind.FEATURE_DRIFT: _feature_drift,
    TriggerKind.ANOMALY_RATE_DRIFT: _anomaly_rate,
    TriggerKind.AGREEMENT_DECLINE: _agreement,
    TriggerKind.FP_SPIKE: _fp_spike,
    TriggerKind.FLEET_CHANGE: _fleet_change,
    TriggerKind.CALENDAR: _calendar,
    TriggerKind.HIT_RATE_DECLINE: _hit_rate,
}


# ---------------------------------------------------------------- recording


def triggers_evaluate(
    *, now: datetime, kinds: Iterable[str] | None = None
) -> list[RetrainingTrigger]:
    """Run the checks of `kinds` (default: all) at `now`; return the new triggers whose
    retrain or baseline update the caller must start."""
    limits = limits_from_settings()
    started, failed = [], []
    for kind in kinds or CHECKS:
        try:
            findings = list(CHECKS[TriggerKind(kind)](now, limits))
        except Exception:  # noqa: BLE001 - one broken check must not silence the others
            logger.exception("retraining trigger check %s failed", kind)
            failed.append(str(kind))
            continue
        for model_kind, finding in findings:
            trigger = _record(kind, model_kind, finding, now=now)
            if trigger is not None and trigger.action in RETRAIN_ACTIONS:
                started.append(trigger)
    if failed:
        # After the others ran and recorded: the job still shows as failed.
        raise ChecksFailed(f"trigger checks failed: {', '.join(failed)}", started)
    return started


def _open(trigger_kind: str, model_kind: str) -> RetrainingTrigger | None:
    return RetrainingTrigger.objects.filter(
        trigger_kind=trigger_kind, model_kind=model_kind, finished_at__isnull=True
    ).first()


def open_retrain(model_kind: str) -> RetrainingTrigger | None:
    """The retrain of `model_kind` in progress, whatever fired it."""
    return RetrainingTrigger.objects.filter(
        model_kind=model_kind, action__in=RETRAIN_ACTIONS, finished_at__isnull=True
    ).first()


def _record(
    trigger_kind: str, model_kind: str, finding: Finding, *, now: datetime
) -> RetrainingTrigger | None:
    """Write the firing (or close a cleared alert-ML trigger); None when nothing new fired."""
    current = _open(trigger_kind, model_kind)
    if not finding.fired:
        if current is not None and current.action == TriggerAction.ALERT_ML:
            current.finished_at = now
            current.outcome_reasons = [*current.outcome_reasons, f"cleared: {finding.summary}"]
            current.save(update_fields=["finished_at", "outcome_reasons", "updated_at"])
            notify.trigger_cleared(current)
        return None
    if current is not None:
        if current.action == TriggerAction.ALERT_ML:  # still firing: keep the newest numbers
            current.evidence, current.summary = finding.evidence, finding.summary[:300]
            current.save(update_fields=["evidence", "summary", "updated_at"])
        return None
    skip = finding.skip_reason
    busy = open_retrain(model_kind) if finding.action in RETRAIN_ACTIONS else None
    if busy is not None:
        skip = f"the retrain of trigger #{busy.pk} ({busy.trigger_kind}) is in progress"
    if skip:
        return _record_skipped(trigger_kind, model_kind, finding, skip, now=now)
    summary = finding.summary
    try:
        with transaction.atomic():
            trigger = RetrainingTrigger.objects.create(
                trigger_kind=trigger_kind,
                model_kind=model_kind,
                fired_at=now,
                evidence=finding.evidence,
                summary=finding.summary[:300],
                action=finding.action,
                status=(
                    TriggerStatus.ESCALATED
                    if finding.action == TriggerAction.ALERT_ML
                    else TriggerStatus.FIRED
                ),
            )
    except IntegrityError:  # another evaluation recorded it a moment ago
        return None
    logger.info("trigger #%s %s %s fired: %s", trigger.pk, trigger_kind, model_kind, summary)
    if trigger.action == TriggerAction.ALERT_ML:
        trigger.outcome_reasons = ["the ML engineers were told; a person decides"]
        trigger.save(update_fields=["outcome_reasons", "updated_at"])
        notify.trigger_alert_ml(trigger)
    return trigger


def _record_skipped(trigger_kind, model_kind, finding, reason, *, now) -> None:
    recently = RetrainingTrigger.objects.filter(
        trigger_kind=trigger_kind,
        model_kind=model_kind,
        status=TriggerStatus.SKIPPED,
        fired_at__gt=now - SKIP_RECORD_EVERY,
    )
    if not recently.exists():
        RetrainingTrigger.objects.create(
            trigger_kind=trigger_kind,
            model_kind=model_kind,
            fired_at=now,
            evidence=finding.evidence,
            summary=finding.summary[:300],
            action=TriggerAction.NONE,
            status=TriggerStatus.SKIPPED,
            outcome_reasons=[reason],
            finished_at=now,
        )
        logger.info("trigger %s %s skipped: %s", trigger_kind, model_kind, reason)
    return None


# ---------------------------------------------------------------- manual retrain


def retrain_request(
    *,
    model_kind: str,
    reason: str,
    actor: str,
    now: datetime,
    threshold: float | None = None,
) -> RetrainingTrigger:
    """A person asks for a retrain (after a firmware rollout, missed failures, a threshold
    fix, ...); the same loop runs: candidate, canary + regression, promotion or rejection."""
    if model_kind not in RETRAINABLE_KINDS:
        raise RetrainRefused(
            f"{model_kind!r} is not a trained model kind; choose one of"
            f" {', '.join(RETRAINABLE_KINDS)}"
        )
    if not reason.strip():
        raise RetrainRefused("a reason is required")
    busy = open_retrain(model_kind)
    if busy is not None:
        raise RetrainRefused(
            f"a retrain of {model_kind} is already in progress (trigger #{busy.pk}, {busy.status})"
        )
    options = {} if threshold is None else {"threshold": threshold}
    summary = f"manual retrain by {actor}: {reason.strip()}"
    try:
        with transaction.atomic():
            return RetrainingTrigger.objects.create(
                trigger_kind=TriggerKind.MANUAL,
                model_kind=model_kind,
                fired_at=now,
                evidence={"reason": reason.strip(), **options},
                summary=summary[:300],
                automated=False,
                requested_by=actor,
                action=TriggerAction.RETRAIN,
                options=options,
            )
    except IntegrityError as exc:
        raise RetrainRefused(f"a retrain of {model_kind} was just requested") from exc
