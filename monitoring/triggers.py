"""The retraining triggers of domain §5.7 (decision D15) as pure functions over plain data.

Django-free: each check takes the numbers its reader gathered (monitoring.retraining.readers)
and returns a Finding: whether it fires, a one-line summary, and the evidence to store.

- feature_drift: > 5 features breach KS (D8) on each of 7+ consecutive days → retrain
  (seasonal, i.e. seen a year before: baseline update; pipeline suspect: skipped).
- anomaly_rate_drift: the anomaly rate is off the contamination target by > 3 pp in each
  of the last 5 runs → alert ML.
- agreement_decline: mean pairwise flag agreement < 80 % in each of the last 3 daily runs
  → alert ML.
- fp_spike: operators marked > 20 % of the HIGH+CRITICAL alerts of 7 days false positive
  (D9) → alert ML.
- fleet_change: > 5 % of the active fleet new within 30 days → retrain.
- calendar: no retrain for > 14 days (Isolation Forest) or > 45 days (other models, D15)
  → retrain.
- hit_rate_decline: the share of alerts followed by maintenance within 7 days fell by
  > 10 pp from the 30 days before → alert ML.

The last is the seed loop's "falling hit rate" (§5.8); the §5.7 table leaves its numbers
open, so they are ours and settings. Every limit is a field of Limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

# Comparisons allow for float noise: 0.08 - 0.05 is 0.030000000000000006, which is "at"
# the 3 pp limit, not over it.
_EPSILON = 1e-9

DRIFT = "feature_drift"
ANOMALY_RATE = "anomaly_rate_drift"
AGREEMENT = "agreement_decline"
FP_SPIKE = "fp_spike"
FLEET_CHANGE = "fleet_change"
CALENDAR = "calendar"
HIT_RATE = "hit_rate_decline"

RETRAIN, BASELINE_UPDATE, ALERT_ML = "retrain", "baseline_update", "alert_ml"
# What each trigger does when it fires (§5.7 "Automation" column).
ACTIONS = {
    DRIFT: RETRAIN,
    ANOMALY_RATE: ALERT_ML,
    AGREEMENT: ALERT_ML,
    FP_SPIKE: ALERT_ML,
    FLEET_CHANGE: RETRAIN,
    CALENDAR: RETRAIN,
    HIT_RATE: ALERT_ML,
}


@dataclass(frozen=True)
class Limits:
    """The §5.7 / D9 / D15 numbers; settings FLEETMON_RETRAIN_<FIELD> override each."""

    drift_min_features: int = 5  # more than this many features breaching ...
    drift_days: int = 7  # ... on each of this many consecutive days
    drift_window_minutes: int = 1440  # the drift windows read (daily)
    rate_pp: float = 0.03  # anomaly rate off target by more than this ...
    rate_runs: int = 5  # ... in each of this many runs
    contamination_target: float = 0.05  # when the model states none (§5.3: ~5 %)
    agreement_min: float = 0.80
    agreement_runs: int = 3
    fp_rate: float = 0.20
    fp_days: int = 7
    fp_min_alerts: int = 10  # fewer alerts than this say nothing about a rate
    fleet_new_share: float = 0.05
    fleet_new_days: int = 30
    calendar_days: Mapping[str, int] = field(
        default_factory=lambda: {"isolation_forest": 14, "default": 45}
    )
    hit_rate_drop: float = 0.10  # hit rate down more than this (absolute) ...
    hit_rate_days: int = 30  # ... in a period of this many days vs the one before
    hit_rate_label_delay_days: int = 7  # maintenance follows alerts within this (labels lag)
    hit_rate_min_alerts: int = 20

    def calendar_limit(self, kind: str) -> int:
        return int(self.calendar_days.get(kind, self.calendar_days["default"]))


@dataclass(frozen=True)
class Finding:
    """A check's verdict. `skip_reason`: it fired but must not act (recorded as skipped)."""

    fired: bool
    summary: str
    evidence: dict
    action: str = ""
    skip_reason: str = ""


def _over(value: float, limit: float) -> bool:
    return value - limit > _EPSILON


def _under(value: float, limit: float) -> bool:
    return limit - value > _EPSILON


# ---------------------------------------------------------------- feature drift


@dataclass(frozen=True)
class DriftDay:
    """One day's fleet drift check: how many features breached the KS rule (D8)."""

    day: date
    features_breached: int
    features_total: int
    pipeline_suspect: bool
    window_end: datetime | None = None


def feature_drift_check(
    days: Sequence[DriftDay], *, limits: Limits, seasonal: bool = False
) -> Finding:
    """Fire when the newest `drift_days` consecutive days each had more than
    `drift_min_features` features breaching; skip when the newest check suspects the
    pipeline (D8: > 30 % drifting at once is a pipeline or baseline problem, not drift)."""
    ordered = sorted(days, key=lambda d: d.day)
    streak: list[DriftDay] = []
    for day in reversed(ordered):
        if day.features_breached <= limits.drift_min_features:
            break
        if streak and (streak[-1].day - day.day).days != 1:
            break
        streak.append(day)
    evidence = {
        "min_features": limits.drift_min_features,
        "days_needed": limits.drift_days,
        "streak_days": len(streak),
        "days": [
            {
                "day": d.day.isoformat(),
                "features_breached": d.features_breached,
                "features_total": d.features_total,
                "pipeline_suspect": d.pipeline_suspect,
            }
            for d in ordered[-max(limits.drift_days, 1) :]
        ],
        "seasonal": seasonal,
    }
    if len(streak) < limits.drift_days:
        return Finding(
            False,
            f"{len(streak)} consecutive drifting days of {limits.drift_days} needed",
            evidence,
        )
    worst = max(d.features_breached for d in streak)
    summary = (
        f"more than {limits.drift_min_features} features drifted (KS > 0.1) on each of the"
        f" last {len(streak)} days (up to {worst})"
    )
    if ordered[-1].pipeline_suspect:
        return Finding(
            True,
            summary,
            evidence,
            skip_reason="the drift check suspects the pipeline or the baseline (more than 30 %"
            " of features drifting at once): fix that first, retraining would learn the bug",
        )
    return Finding(True, summary, evidence, action=BASELINE_UPDATE if seasonal else RETRAIN)


# ---------------------------------------------------------------- anomaly rate


@dataclass(frozen=True)
class RunRate:
    run_id: int
    window_end: datetime
    scored: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.scored if self.scored else 0.0


def anomaly_rate_check(runs: Sequence[RunRate], *, target: float, limits: Limits) -> Finding:
    """Fire when each of the newest `rate_runs` runs is off `target` by more than `rate_pp`."""
    newest = sorted(runs, key=lambda r: (r.window_end, r.run_id))[-limits.rate_runs :]
    evidence = {
        "target": target,
        "limit_pp": limits.rate_pp,
        "runs_needed": limits.rate_runs,
        "runs": [
            {
                "run_id": r.run_id,
                "window_end": r.window_end.isoformat(),
                "scored": r.scored,
                "flagged": r.flagged,
                "rate": round(r.rate, 6),
            }
            for r in newest
        ],
    }
    off = [r for r in newest if r.scored and _over(abs(r.rate - target), limits.rate_pp)]
    if len(newest) < limits.rate_runs or len(off) < len(newest):
        return Finding(False, f"{len(off)} of the last {len(newest)} runs off target", evidence)
    mean = sum(r.rate for r in newest) / len(newest)
    return Finding(
        True,
        f"anomaly rate {mean:.1%} (mean) is off the {target:.0%} target by more than"
        f" {limits.rate_pp * 100:.0f} pp in each of the last {len(newest)} runs",
        evidence,
        action=ALERT_ML,
    )


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class PairAgreement:
    model_a: str
    model_b: str
    devices: int
    agreeing: int

    @property
    def agreement(self) -> float:
        return self.agreeing / self.devices if self.devices else 1.0


@dataclass(frozen=True)
class RunAgreement:
    run_id: int
    window_end: datetime
    pairs: tuple[PairAgreement, ...]

    @property
    def agreement(self) -> float:
        """The mean pairwise flag agreement of the run's production models."""
        if not self.pairs:
            return 1.0
        return sum(p.agreement for p in self.pairs) / len(self.pairs)


def outlier_model(pairs: Sequence[PairAgreement]) -> str:
    """The model that agrees least with the others (the runbook's first question)."""
    totals: dict[str, list[float]] = {}
    for pair in pairs:
        for model in (pair.model_a, pair.model_b):
            totals.setdefault(model, []).append(pair.agreement)
    if not totals:
        return ""
    return min(totals, key=lambda m: sum(totals[m]) / len(totals[m]))


def agreement_check(runs: Sequence[RunAgreement], *, limits: Limits) -> Finding:
    """Fire when each of the newest `agreement_runs` daily runs agrees below the minimum."""
    newest = sorted(runs, key=lambda r: (r.window_end, r.run_id))[-limits.agreement_runs :]
    evidence = {
        "min_agreement": limits.agreement_min,
        "runs_needed": limits.agreement_runs,
        "runs": [
            {
                "run_id": r.run_id,
                "window_end": r.window_end.isoformat(),
                "agreement": round(r.agreement, 6),
                "pairs": [
                    {
                        "models": [p.model_a, p.model_b],
                        "devices": p.devices,
                        "agreement": p.agreement,
                    }
                    for p in r.pairs
                ],
            }
            for r in newest
        ],
    }
    low = [r for r in newest if r.pairs and _under(r.agreement, limits.agreement_min)]
    if len(newest) < limits.agreement_runs or len(low) < len(newest):
        return Finding(False, f"{len(low)} of the last {len(newest)} daily runs below", evidence)
    outlier = outlier_model([p for r in newest for p in r.pairs])
    evidence["outlier_model"] = outlier
    return Finding(
        True,
        f"model agreement under {limits.agreement_min:.0%} in each of the last {len(newest)}"
        f" daily runs; least agreeing: {outlier}",
        evidence,
        action=ALERT_ML,
    )


# ---------------------------------------------------------------- false positives


def fp_spike_check(*, alerts: int, false_positives: int, limits: Limits, **breakdown) -> Finding:
    """Fire when operators marked more than `fp_rate` of the HIGH+CRITICAL alerts of the last
    `fp_days` days false positive (D9), given at least `fp_min_alerts` alerts."""
    rate = false_positives / alerts if alerts else 0.0
    evidence = {
        "days": limits.fp_days,
        "alerts": alerts,
        "false_positives": false_positives,
        "fp_rate": round(rate, 6),
        "limit": limits.fp_rate,
        "min_alerts": limits.fp_min_alerts,
        **breakdown,
    }
    if alerts < limits.fp_min_alerts or not _over(rate, limits.fp_rate):
        return Finding(False, f"false-positive rate {rate:.0%} of {alerts} alerts", evidence)
    return Finding(
        True,
        f"operators marked {false_positives} of {alerts} HIGH/CRITICAL alerts ({rate:.0%})"
        f" false positive in {limits.fp_days} days; usually a threshold fix",
        evidence,
        action=ALERT_ML,
    )


# ---------------------------------------------------------------- fleet change


def fleet_change_check(*, active: int, new: int, limits: Limits, **details) -> Finding:
    """Fire when more than `fleet_new_share` of the active fleet is new (installed within
    `fleet_new_days` days and after the model's training data)."""
    share = new / active if active else 0.0
    evidence = {
        "active_devices": active,
        "new_devices": new,
        "new_share": round(share, 6),
        "limit": limits.fleet_new_share,
        "days": limits.fleet_new_days,
        **details,
    }
    if not _over(share, limits.fleet_new_share):
        return Finding(False, f"{share:.1%} of the fleet is new", evidence)
    return Finding(
        True,
        f"{new} of {active} active devices ({share:.1%}) are new within"
        f" {limits.fleet_new_days} days",
        evidence,
        action=RETRAIN,
    )


# ---------------------------------------------------------------- calendar


def calendar_check(
    *, kind: str, last_retrain: datetime | None, now: datetime, limits: Limits
) -> Finding:
    """Fire when `kind` has not been retrained for more than its safety-net period (D15)."""
    days = limits.calendar_limit(kind)
    evidence = {
        "last_retrain": last_retrain.isoformat() if last_retrain else None,
        "limit_days": days,
    }
    if last_retrain is None:
        return Finding(False, "never trained: nothing to retrain", evidence)
    age = now - last_retrain
    evidence["days_since"] = round(age / timedelta(days=1), 3)
    if age <= timedelta(days=days):
        return Finding(False, f"retrained {age.days} days ago", evidence)
    return Finding(
        True,
        f"{kind} last retrained {age.days} days ago (safety net: {days} days)",
        evidence,
        action=RETRAIN,
    )


# ---------------------------------------------------------------- hit rate


@dataclass(frozen=True)
class HitCounts:
    start: datetime
    end: datetime
    alerts: int
    hits: int

    @property
    def rate(self) -> float:
        return self.hits / self.alerts if self.alerts else 0.0

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "alerts": self.alerts,
            "hits": self.hits,
            "hit_rate": round(self.rate, 6),
        }


def hit_rate_check(*, recent: HitCounts, previous: HitCounts, limits: Limits) -> Finding:
    """Fire when the share of alerts followed by maintenance fell by more than
    `hit_rate_drop` from the previous period to the recent one."""
    evidence = {
        "recent": recent.as_dict(),
        "previous": previous.as_dict(),
        "limit_drop": limits.hit_rate_drop,
        "min_alerts": limits.hit_rate_min_alerts,
    }
    enough = min(recent.alerts, previous.alerts) >= limits.hit_rate_min_alerts
    drop = previous.rate - recent.rate
    if not enough or not _over(drop, limits.hit_rate_drop):
        return Finding(False, f"hit rate {recent.rate:.0%} (was {previous.rate:.0%})", evidence)
    return Finding(
        True,
        f"alert hit rate fell from {previous.rate:.0%} to {recent.rate:.0%}: alerts lead to"
        " maintenance less often (concept drift or too many false alerts)",
        evidence,
        action=ALERT_ML,
    )
