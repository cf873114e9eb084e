"""Reads of the detection evaluations for the ML dashboard and its API.

The latest scorecard is the newest *succeeded* replay run for the scorecard (gate replays
score a candidate on a fixed seed and are listed apart); its trend is the headline columns
of the last scorecards; its worst rows are picked out of its stored scorecard JSON.

TRICKY: nothing here imports the replay harness (monitoring.detection.replay, and with it
the simulator, the streaming worker and time-machine): the dashboard must render whatever
state the harness is in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from alerts.models import AlertStatus, DeviceAlert, Severity
from monitoring.detection.scorecard import SEVERITIES
from monitoring.models import DetectionEvaluation
from scoring.models import ModelVersion

TREND_POINTS = 20
WORST_ROWS = 5
GATES_LISTED = 10
LABEL_DAYS = 30
# Where the D11 detection gate leaves its verdict, beside the canary and regression reports.
GATE_REPORT_KEY = "detection"
EVALUATE_COMMAND = "manage.py evaluate_detection"
# What that command replays when given no options (its argument defaults).
EVALUATE_DEFAULTS = {"devices": 200, "history_days": 10, "test_days": 3, "seed": 1}

# The targets' summary keys, as the page names them.
TARGET_LABELS = {
    "healthy_high_critical_per_device_day": "HIGH/CRITICAL per healthy device-day",
    "d9_high_critical_no_fault_share": "D9: share of HIGH/CRITICAL hitting no fault",
    "acute_recall_in_time": "Acute recall in time",
    "acute_recall_from_symptom": "Acute recall in time, from the first symptom",
    "glitch_high_critical": "HIGH/CRITICAL raised by sensor glitches",
    "gradual_recall_before_failure": "Gradual recall before the failure point",
    "gradual_lead_median_h": "Gradual lead before failure, median (h)",
    "power_loss_outages_with_one_incident": "Power losses opening exactly one incident",
}

Purpose, Status = DetectionEvaluation.Purpose, DetectionEvaluation.Status
GATE_PURPOSES = (Purpose.GATE_PRODUCTION, Purpose.GATE_CANDIDATE)
HEADLINES = (
    "acute_recall",
    "gradual_recall",
    "gradual_lead_median_h",
    "healthy_high_critical_per_device_day",
    "d9_share",
    "targets_met",
    "targets_measured",
)


def _scorecards():
    return DetectionEvaluation.objects.filter(purpose=Purpose.SCORECARD)


def evaluation_latest() -> DetectionEvaluation | None:
    """Return the newest succeeded scorecard evaluation, or None."""
    return _scorecards().filter(status=Status.SUCCEEDED).order_by("-created_at", "-pk").first()


def evaluation_trend(*, limit: int = TREND_POINTS) -> list[dict[str, Any]]:
    """Return the headline figures of the last `limit` succeeded scorecards, oldest first."""
    rows = (
        _scorecards()
        .filter(status=Status.SUCCEEDED)
        .order_by("-created_at", "-pk")
        .values("pk", "created_at", "seed", "devices", *HEADLINES)[:limit]
    )
    return [{"id": r.pop("pk"), **r} for r in reversed(rows)]


def evaluations_unfinished(*, after: datetime | None, limit: int = 5) -> list[dict[str, Any]]:
    """Return scorecard evaluations newer than `after` that are still running or failed."""
    rows = _scorecards().exclude(status=Status.SUCCEEDED)
    if after is not None:
        rows = rows.filter(created_at__gt=after)
    return [_brief(e) for e in rows.order_by("-created_at", "-pk")[:limit]]


def gate_evaluations(*, limit: int = GATES_LISTED) -> list[dict[str, Any]]:
    """Return the newest gate replays, each with its candidate's stored verdict if any."""
    rows = list(
        DetectionEvaluation.objects.filter(purpose__in=GATE_PURPOSES).order_by(
            "-created_at", "-pk"
        )[:limit]
    )
    candidates = {e.candidate for e in rows if e.candidate}
    reports = {
        model_id: validation.get(GATE_REPORT_KEY)
        for model_id, validation in ModelVersion.objects.filter(
            model_id__in=candidates
        ).values_list("model_id", "validation")
    }
    return [_brief(e, verdict=reports.get(e.candidate)) for e in rows]


def _brief(evaluation: DetectionEvaluation, verdict: dict | None = None) -> dict[str, Any]:
    return {
        "id": evaluation.pk,
        "created_at": evaluation.created_at,
        "purpose": evaluation.purpose,
        "status": evaluation.status,
        "candidate": evaluation.candidate,
        "seed": evaluation.seed,
        "devices": evaluation.devices,
        "targets_met": evaluation.targets_met,
        "targets_measured": evaluation.targets_measured,
        "error": evaluation.error,
        "verdict": _verdict(verdict),
    }


def _verdict(report: dict | None) -> dict[str, Any] | None:
    if not report or "passed" not in report:
        return None
    return {"passed": bool(report["passed"]), "failures": list(report.get("failures", []))}


# ---------------------------------------------------------------- one scorecard


def worst_faults(card: dict[str, Any], *, limit: int = WORST_ROWS) -> list[dict[str, Any]]:
    """Return the fault types that missed some fault, lowest recall first, with how they
    were missed: alerted too late or too weakly, or never alerted at all."""
    rows = [r for r in card.get("faults", []) if r["detected"] < r["devices"]]
    rows.sort(key=lambda r: (r["recall"] is None, r["recall"], -r["devices"], r["fault_type"]))
    return [
        {
            "fault_type": r["fault_type"],
            "kind": r["kind"],
            "expected_severity": r["expected_severity"],
            "devices": r["devices"],
            "detected": r["detected"],
            "recall": r["recall"],
            "alerted_late_or_weak": r["alerted_any"] - r["detected"],
            "never_alerted": r["devices"] - r["alerted_any"],
            "missed": r["missed"],
        }
        for r in rows[:limit]
    ]


def worst_false_alarms(card: dict[str, Any], *, limit: int = WORST_ROWS) -> dict[str, list]:
    """Return the harmless events and the rules or models with the most HIGH/CRITICAL
    alerts that hit no fault, most first (those with none are left out)."""
    events = [
        {
            "event_type": r["event_type"],
            "events": r["events"],
            "high_critical": r["alerts_by_severity"]["HIGH"] + r["alerts_by_severity"]["CRITICAL"],
            "events_with_high_critical": r["events_with_high_critical"],
            "alerts_by_rule": r["alerts_by_rule"],
        }
        for r in card.get("events", [])
    ]
    events = [e for e in events if e["high_critical"]]
    events.sort(key=lambda e: (-e["high_critical"], e["event_type"]))
    by_rule = card.get("healthy", {}).get("false_alarms_by_rule", {})
    rules = [{"rule": rule, "high_critical_no_fault": n} for rule, n in by_rule.items() if n]
    rules.sort(key=lambda r: (-r["high_critical_no_fault"], r["rule"]))
    return {"events": events[:limit], "rules": rules[:limit]}


def evaluation_figures(evaluation: DetectionEvaluation) -> dict[str, Any]:
    """Return one evaluation as the dashboard shows it: its run, its scorecard's tables."""
    card = evaluation.scorecard or {}
    return {
        "id": evaluation.pk,
        "created_at": evaluation.created_at,
        "finished_at": evaluation.finished_at,
        "duration_seconds": evaluation.duration_seconds,
        "requested_by": evaluation.requested_by,
        "purpose": evaluation.purpose,
        "status": evaluation.status,
        "candidate": evaluation.candidate,
        "seed": evaluation.seed,
        "devices": evaluation.devices,
        "history_days": evaluation.history_days,
        "test_days": evaluation.test_days,
        "model_versions": [
            {"kind": kind, **version}
            for kind, version in sorted((evaluation.model_versions or {}).items())
        ],
        "thresholds": evaluation.thresholds or {},
        "targets_met": evaluation.targets_met,
        "targets_measured": evaluation.targets_measured,
        "targets": [
            {**t, "label": TARGET_LABELS.get(t["measure"], t["measure"].replace("_", " "))}
            for t in card.get("targets", [])
        ],
        "faults": [
            {**r, "caught_first_by": _by_count(r["caught_first_by"])}
            for r in card.get("faults", [])
        ],
        "healthy": _healthy(card["healthy"]) if card.get("healthy") else None,
        "operators": card.get("operators") or None,
        "events": [
            {**r, "alerts_by_rule": _by_count(r["alerts_by_rule"])} for r in card.get("events", [])
        ],
        "error": evaluation.error,
    }


def evaluation_full(evaluation: DetectionEvaluation) -> dict[str, Any]:
    """Return one evaluation with everything stored about it, the full scorecard included."""
    return {
        **evaluation_figures(evaluation),
        "config": evaluation.config,
        "bootstrap": evaluation.bootstrap,
        "timings": evaluation.timings,
        "scorecard": evaluation.scorecard,
    }


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    """Put counts most first again: TRICKY, jsonb keeps no key order, so the scorecard's
    most-common-first dicts come back in jsonb's own order."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _healthy(healthy: dict[str, Any]) -> dict[str, Any]:
    # Per-severity rates as a list, in severity order, for the same reason.
    per_day = healthy.get("alerts_per_device_day") or {}
    return {
        **healthy,
        "alerts_per_device_day": [{"severity": s, "rate": per_day.get(s)} for s in SEVERITIES],
        "false_alarms_by_rule": _by_count(healthy.get("false_alarms_by_rule") or {}),
    }


# ---------------------------------------------------------------- real labels


def label_measures(*, since: datetime, until: datetime) -> dict[str, Any]:
    """Return the scorecard's measures from real labels over [since, until): per rule or
    model, the HIGH/CRITICAL alerts operators marked false positive (the D9 figure) and
    those resolved with maintenance (the hit rate)."""
    rows = (
        DeviceAlert.objects.filter(
            suppressed=False,
            severity__in=(Severity.HIGH, Severity.CRITICAL),
            alert_created_at__gte=since,
            alert_created_at__lt=until,
        )
        .values("source", "model_id")
        .annotate(
            # distinct: the maintenance join repeats an alert once per maintenance event.
            alerts=Count("pk", distinct=True),
            false_positive=Count("pk", filter=Q(status=AlertStatus.FALSE_POSITIVE), distinct=True),
            maintained=Count(
                "pk",
                filter=Q(status=AlertStatus.RESOLVED, maintenance_events__isnull=False),
                distinct=True,
            ),
        )
        .order_by("-alerts", "source", "model_id")
    )
    by_rule = [
        {
            "rule": f"{r['source']}:{r['model_id']}",
            "alerts": r["alerts"],
            "false_positive": r["false_positive"],
            "false_positive_share": _share(r["false_positive"], r["alerts"]),
            "resolved_with_maintenance": r["maintained"],
        }
        for r in rows
    ]
    total = sum(r["alerts"] for r in by_rule)
    false_positive = sum(r["false_positive"] for r in by_rule)
    maintained = sum(r["resolved_with_maintenance"] for r in by_rule)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "high_critical_alerts": total,
        "false_positive": false_positive,
        "false_positive_share": _share(false_positive, total),
        "resolved_with_maintenance": maintained,
        "hit_rate": _share(maintained, total),
        "by_rule": by_rule,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- the section


def detection_overview(*, now: datetime) -> dict[str, Any]:
    """Return everything the Detection section shows: the latest scorecard, its trend, its
    worst rows, the real-label measures of the last 30 days, and the other evaluations."""
    latest = evaluation_latest()
    card = latest.scorecard if latest else {}
    return {
        "generated_at": now,
        "latest": evaluation_figures(latest) if latest else None,
        "trend": evaluation_trend(),
        "worst": {"faults": worst_faults(card), **worst_false_alarms(card)},
        "labels": label_measures(since=now - timedelta(days=LABEL_DAYS), until=now),
        "unfinished": evaluations_unfinished(after=latest.created_at if latest else None),
        "gates": gate_evaluations(),
        "command": EVALUATE_COMMAND,
        "command_defaults": EVALUATE_DEFAULTS,
    }
