"""Score-to-alert (domain §4.6, decisions D3, D5, D6) and device pre-hydration (D14)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.maintenance_windows import live_windows, record_suppression, suppress_in_window
from alerts.models import (
    ACTIVE_STATUSES,
    SEVERITY_RANK,
    AlertEvent,
    AlertStatus,
    AlertType,
    DeviceAlert,
)
from alerts.restart import devices_restarting
from alerts.severity import SLA, Cutoffs, batch_severity
from alerts.text import alert_description, alert_title
from fleetmon.registry.models import Device
from fleetmon.registry.services import devices_set_open_severity, devices_set_scores
from scoring.detectors.registry import DETECTORS
from scoring.detectors.signatures import Signature, signature_of
from scoring.models import ModelVersion, ScoringRun
from scoring.selectors import (
    devices_in_defrost_mode,
    previous_scores,
    run_best_model_scores,
    run_flagged_scores,
    score_slopes,
)
from scoring.services.runs import run_mark_alerted

logger = logging.getLogger(__name__)

DEDUP_WINDOW = timedelta(hours=4)  # D6
RECHECK_FOR = timedelta(hours=24)  # D5
TRANSIENT_BELOW = 0.6  # D5: the next batch score under this resolves the alert
DAILY_MINUTES = 1440  # runs over trailing days catch slow faults (see alerts_from_run)
CONFIRMED_ABOVE = 0.85  # D5: the next batch score over this sustains a streaming alert
TREND_PER_HOUR = 0.01  # D14


@dataclass
class Candidate:
    """One alert the run would raise for a device, before dedup."""

    device_id: str
    source: str
    kind: str  # the model kind, or "rules_fallback"; part of the dedup key
    model_id: str
    severity: str
    score: float | None
    contributors: list[str]
    contributor_scores: list[float]
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        first = self.contributors[0] if self.contributors else ""
        if self.kind in DETECTORS and not DETECTORS[self.kind].dedup_by_contributor:
            first = "trend"  # one developing fault, whichever quantity leads this hour
        return f"{self.device_id}|{self.kind}|{first}"

    @property
    def signature(self) -> Signature | None:
        """The slow fault the signed contributors point to, if any (physics §3)."""
        if self.kind not in DETECTORS or not DETECTORS[self.kind].signed_contributors:
            return None
        return signature_of(self.contributors, self.contributor_scores)


def cutoffs_for(cohort_id: str) -> Cutoffs:
    """D3 cut-offs: the defaults, overridden per cohort by FLEETMON_SEVERITY_CUTOFFS."""
    table = settings.FLEETMON_SEVERITY_CUTOFFS
    return Cutoffs.from_dict({**table.get("default", {}), **table.get(cohort_id, {})})


def alerts_from_run(*, run_id: int, now: datetime | None = None) -> dict[str, int]:
    """Turn a finished run's production scores into alerts; reconcile and pre-hydrate.

    1. Per device, the flagged model scores give one candidate: the highest score names the
       model and contributors; severity follows D3 (agreement, previous window). A
       15-minute flag waits for the next scored window to confirm it (alarm delay); on
       trailing days only a lone model's non-critical flag waits.
    2. Devices no model scored in this run (a failed model, poor data) fall back to the
       rules: their flags raise FLEETMON_FALLBACK_SEVERITY alerts, so alerting never stops.
    3. Candidates are deduplicated against active alerts (D6) and escalate or sustain them
       (D5); reruns of the same run raise nothing twice.
    4. Active alerts of scored devices, of the run's window length, are reconciled with the
       new score (D5).
    Devices defrosting or within the post-defrost delay (D10), or restarting after a site
    power loss (alerts.restart), are left out of 1, 4 and 5, and such a window confirms no
    flag of the next one (the alarm delay of 1).
    5. Devices get their latest score, 24 h trend and health (D14).
    Runs over trailing days (slow faults, scored hourly) skip D10 and 5.
    """
    now = now or timezone.now()
    run = ScoringRun.objects.get(pk=run_id)
    flagged = run_flagged_scores(run_id=run_id)
    best = run_best_model_scores(run_id=run_id)
    daily = run.window_minutes >= DAILY_MINUTES
    waiting = _waiting(list(best), run.window_end, run.window_minutes)
    best = {device: score for device, score in best.items() if device not in waiting}
    models = flagged[(flagged["kind"] != "rules_fallback") & flagged["device_id"].isin(best)]
    fallback = flagged[flagged["kind"] == "rules_fallback"]
    cohorts = dict(
        Device.objects.filter(pk__in=flagged["device_id"].unique()).values_list("pk", "cohort_id")
    )
    candidates = _model_candidates(models, run, cohorts)
    candidates += _fallback_candidates(fallback, set(best) | waiting)
    created, suppressed = _raise(candidates, run.window_end, now)
    resolved, reconciled = _reconcile(best, run.window_end, now, run.window_minutes)
    # A device's latest score follows the 15-minute runs; a trailing day is a slower view.
    if not daily:
        _prehydrate(best, run.window_end)
    refresh_open_severity({c.device_id for c in candidates} | reconciled)
    run_mark_alerted(run_id=run_id, alerts_created=created)
    logger.info(
        "run %s alerts: %d created, %d suppressed, %d resolved",
        run_id,
        created,
        suppressed,
        resolved,
    )
    return {"created": created, "suppressed": suppressed, "resolved": resolved}


def _waiting(device_ids: list[str], window_end: datetime, minutes: int) -> set[str]:
    """Devices whose window ending at `window_end` no model may alert on, as physics
    explains it.

    D10 for batch: a device defrosting, or within the post-defrost delay, raises no model
    alert and keeps its previous score: its evaporator is warm on purpose. Every daily
    window holds defrosts, which its baselines were trained with, so D10 is sub-daily.
    The same after a site power loss (alerts.restart): every device of the site pulls down
    from warm, for every window length.
    """
    defrosting = (
        set()
        if minutes >= DAILY_MINUTES
        else devices_in_defrost_mode(
            device_ids=device_ids,
            window_end=window_end,
            minutes=minutes,
            delay_minutes=settings.FLEETMON_POST_DEFROST_MINUTES,
        )
    )
    return defrosting | devices_restarting(device_ids=device_ids, window_end=window_end)


def _previous(device_ids: list[str], run: ScoringRun) -> dict[str, tuple[float, bool]]:
    """Each device's previous scored window (D3, the alarm delay), unless that window was
    one the alert step had to leave alone: a defrost or a restart that was never judged
    cannot confirm a flag now (a glitch an hour after a defrost is still one window)."""
    previous = previous_scores(
        device_ids=device_ids,
        before=run.window_end,
        # Hourly runs score every fourth 15-minute window and every hour's trailing day.
        within=timedelta(hours=2),
        minutes=run.window_minutes,
    )
    by_end: dict[datetime, list[str]] = {}
    for device, (_, _, end) in previous.items():
        by_end.setdefault(end, []).append(device)
    ignored = set()
    for end, devices in by_end.items():
        ignored |= _waiting(devices, end, run.window_minutes)
    return {
        device: (score, flagged)
        for device, (score, flagged, _) in previous.items()
        if device not in ignored
    }


def _model_candidates(flagged: pd.DataFrame, run: ScoringRun, cohorts: dict) -> list[Candidate]:
    if flagged.empty:
        return []
    previous = _previous(list(flagged["device_id"].unique()), run)
    candidates = []
    for device_id, group in flagged.groupby("device_id"):
        top = group.loc[group["anomaly_score"].idxmax()]
        previous_max, previous_flagged = previous.get(device_id, (None, False))
        severity = batch_severity(
            max_score=float(top["anomaly_score"]),
            models_flagging=group["model_id"].nunique(),
            previous_max_score=previous_max,
            cutoffs=cutoffs_for(cohorts.get(device_id, "")),
        )
        # Alarm delay (domain §14, an on-delay): a 15-minute window alerts only when the
        # device's previous scored window (an hour earlier) was flagged too, however high
        # the score and however many models agree. One window is what a single wild reading,
        # the pull-down after a power cut or a restocking moves; acute faults are the
        # streaming rules' job, in seconds. Trailing days overlap hour to hour, so there only
        # a lone model's non-critical flag waits.
        if run.window_minutes >= DAILY_MINUTES:
            lone = group["model_id"].nunique() == 1 and severity != "CRITICAL"
            delayed = lone and not previous_flagged
        else:
            delayed = not previous_flagged
        if delayed and settings.FLEETMON_ALERT_CONFIRM_WINDOWS > 1:
            continue
        candidates.append(
            Candidate(
                device_id=device_id,
                source=DeviceAlert.Source.BATCH,
                kind=top["kind"],
                model_id=top["model_id"],
                severity=severity,
                score=float(top["anomaly_score"]),
                contributors=list(top["top_contributors"] or []),
                contributor_scores=list(top["contributor_scores"] or []),
                scores=dict(
                    zip(group["model_id"], group["anomaly_score"].astype(float), strict=True)
                ),
            )
        )
    return candidates


def _fallback_candidates(fallback: pd.DataFrame, scored_by_models: set[str]) -> list[Candidate]:
    rows = fallback[~fallback["device_id"].isin(scored_by_models)]
    return [
        Candidate(
            device_id=row.device_id,
            source=DeviceAlert.Source.FALLBACK,
            kind="rules_fallback",
            model_id=row.model_id,
            severity=settings.FLEETMON_FALLBACK_SEVERITY,
            score=None,
            contributors=list(row.top_contributors or []),
            contributor_scores=list(row.contributor_scores or []),
        )
        for row in rows.itertuples()
    ]


def _raise(candidates: list[Candidate], window_end: datetime, now: datetime) -> tuple[int, int]:
    """Store candidates as alerts: new ones DETECTED, repeats suppressed and linked (D6)."""
    if not candidates:
        return 0, 0
    keys = [c.dedup_key for c in candidates]
    done = set(
        DeviceAlert.objects.filter(dedup_key__in=keys, window_end=window_end)
        .exclude(source=DeviceAlert.Source.STREAMING)
        .values_list("dedup_key", flat=True)
    )
    devices = Device.objects.in_bulk([c.device_id for c in candidates])
    # Out of service (fleetmon.registry.out_of_service): such a device raises nothing.
    candidates = [c for c in candidates if not devices[c.device_id].is_out_of_service(now)]
    created = suppressed = 0
    windows = live_windows(window_end) if candidates else []
    with transaction.atomic():
        active = _active_by_key(keys, window_end)
        for candidate in candidates:
            if candidate.dedup_key in done:
                continue  # this run already raised it (a rerun)
            device = devices[candidate.device_id]
            alert = _new_alert(candidate, device, window_end, now)
            current = active.get(candidate.dedup_key)
            window = (
                suppress_in_window(alert, device, window_end, live=windows)
                if current is None
                else None
            )
            if current is not None:
                alert.suppressed, alert.suppressed_by = True, current
                _sustain_or_escalate(current, candidate, window_end, now)
                suppressed += 1
            alert.save(force_insert=True)
            if current is None:
                active[candidate.dedup_key] = alert
                AlertEvent.objects.create(
                    alert=alert,
                    kind="created",
                    actor="scoring",
                    at=now,
                    details={"severity": alert.severity, "scores": candidate.scores},
                )
                if window is not None:
                    record_suppression(alert, window, now)
                created += 1
    return created, suppressed


def _active_by_key(keys: list[str], window_end: datetime) -> dict[str, DeviceAlert]:
    """The active, unsuppressed alert per dedup key seen within the dedup window."""
    active = {}
    for alert in (
        DeviceAlert.objects.select_for_update()
        .filter(
            dedup_key__in=keys,
            suppressed=False,
            status__in=ACTIVE_STATUSES,
            last_seen_at__gte=window_end - DEDUP_WINDOW,
        )
        .order_by("alert_created_at")
    ):
        active.setdefault(alert.dedup_key, alert)
    return active


def _new_alert(candidate: Candidate, device: Device, window_end: datetime, now) -> DeviceAlert:
    return DeviceAlert(
        device=device,
        site_id=device.site_id,
        region=device.region,
        alert_type=AlertType.DETECTED,
        severity=candidate.severity,
        source=candidate.source,
        title=alert_title(
            device_id=device.device_id,
            contributors=candidate.contributors,
            source=candidate.source,
            signature=candidate.signature,
        ),
        description=alert_description(
            severity=candidate.severity,
            scores=candidate.scores,
            contributors=candidate.contributors,
            contributor_scores=candidate.contributor_scores,
            trend=device.anomaly_trend,
            signature=candidate.signature,
        ),
        model_id=candidate.model_id,
        models_flagging=sorted(candidate.scores),
        anomaly_score=candidate.score,
        top_contributors=candidate.contributors,
        contributor_scores=candidate.contributor_scores,
        dedup_key=candidate.dedup_key,
        window_end=window_end,
        first_detected_at=window_end,
        alert_created_at=now,
        last_seen_at=window_end,
        sla_deadline=now + SLA[candidate.severity],
        recheck_until=now + RECHECK_FOR,
    )


def _sustain_or_escalate(current: DeviceAlert, candidate: Candidate, window_end, now) -> None:
    """D5 on the active alert: a higher severity escalates it, a later window sustains it."""
    fields = ["last_seen_at"]
    current.last_seen_at = max(current.last_seen_at, window_end)
    if SEVERITY_RANK[candidate.severity] > SEVERITY_RANK[current.severity]:
        previous = current.severity
        current.severity = candidate.severity
        current.alert_type = AlertType.ESCALATED
        current.sla_deadline = min(current.sla_deadline, now + SLA[candidate.severity])
        fields += ["severity", "alert_type", "sla_deadline"]
        _event(current, "escalated", now, f"{previous} -> {candidate.severity}", candidate.scores)
    elif current.alert_type == AlertType.DETECTED and window_end > (
        current.window_end or window_end
    ):
        current.alert_type = AlertType.SUSTAINED
        fields.append("alert_type")
        _event(current, "sustained", now, "flagged again in a later window", candidate.scores)
    current.save(update_fields=fields)


def _event(alert: DeviceAlert, kind: str, at: datetime, note: str, details=None) -> None:
    AlertEvent.objects.create(
        alert=alert, kind=kind, actor="scoring", note=note, at=at, details=details or {}
    )


def _reconcile(
    best: dict[str, float], window_end: datetime, now: datetime, minutes: int
) -> tuple[int, set[str]]:
    """D5: resolve transient alerts, confirm streaming ones, with the device's new score.

    A score speaks for alerts of its own window length only: a quiet 15-minute window says
    nothing about a slow fault that a trailing day shows. Streaming and fallback alerts are
    reconciled by the sub-day runs.
    Returns the number resolved and the devices whose alerts changed.
    """
    if not best:
        return 0, set()
    same_window = ModelVersion.objects.filter(window_minutes=minutes).values("model_id")
    mine = Q(source=DeviceAlert.Source.BATCH, model_id__in=same_window)
    if minutes < DAILY_MINUTES:
        mine |= Q(source__in=(DeviceAlert.Source.STREAMING, DeviceAlert.Source.FALLBACK))
    resolved, touched = 0, set()
    with transaction.atomic():
        alerts = DeviceAlert.objects.select_for_update().filter(
            mine,
            Q(window_end__lt=window_end)
            | Q(window_end__isnull=True, first_detected_at__lt=window_end),
            device_id__in=list(best),
            suppressed=False,
            status=AlertStatus.OPEN,
            recheck_until__gte=now,
        )
        for alert in alerts:
            score = best[alert.device_id]
            if score < TRANSIENT_BELOW:
                alert.alert_type = AlertType.RESOLVED
                alert.status = AlertStatus.RESOLVED
                alert.resolved_at = now
                alert.save(update_fields=["alert_type", "status", "resolved_at"])
                _event(alert, "resolved", now, f"transient: next batch score {score:.2f} < 0.6")
                resolved += 1
                touched.add(alert.device_id)
            elif (
                score > CONFIRMED_ABOVE
                and alert.source == DeviceAlert.Source.STREAMING
                and alert.alert_type == AlertType.DETECTED
            ):
                alert.alert_type = AlertType.SUSTAINED
                alert.save(update_fields=["alert_type"])
                _event(alert, "sustained", now, f"confirmed by batch score {score:.2f}")
    return resolved, touched


def _prehydrate(best: dict[str, float], window_end: datetime) -> None:
    slopes = score_slopes(
        device_ids=list(best), since=window_end - timedelta(hours=24), until=window_end
    )
    devices_set_scores(
        scores={device: (score, _trend(slopes.get(device))) for device, score in best.items()}
    )


def _trend(slope: float | None) -> str:
    if slope is None:
        return "stable"
    if slope > TREND_PER_HOUR:
        return "increasing"
    if slope < -TREND_PER_HOUR:
        return "decreasing"
    return "stable"


def refresh_open_severity(device_ids: set[str]) -> None:
    worst = {device: "" for device in device_ids}
    for device, severity in DeviceAlert.objects.filter(
        device_id__in=device_ids, suppressed=False, status__in=ACTIVE_STATUSES
    ).values_list("device_id", "severity"):
        if not worst[device] or SEVERITY_RANK[severity] > SEVERITY_RANK[worst[device]]:
            worst[device] = severity
    devices_set_open_severity(severities=worst)
