"""Reads for the ML engineer dashboard and the data-health page (domain §5.5, §3.6, §7.6).

Every figure comes from what the monitoring jobs stored (model_run_metrics,
data_quality_hourly, feature_drift_metrics, ...) so the pages stay cheap on a 100k-device
fleet; only the top-flagged devices read model_scores, over a bounded time range.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, Sum

from alerts.models import SEVERITY_RANK, AlertStatus, DeviceAlert, Severity
from fleetmon.sensors import SENSOR_NAMES
from monitoring.data_quality import FLAGS
from monitoring.model_health import NOT_MODELS, alert_hit_rate, false_positive_rates
from monitoring.model_metrics import HISTOGRAM_BINS
from monitoring.models import (
    DataQualityDailySummary,
    DataQualityHourly,
    DataQualityMetric,
    DriftCheck,
    FeatureDriftMetric,
    ModelRunMetric,
    MonitorAlert,
    MonitorStatus,
    RunMetric,
    TrainingServingSkew,
)
from scoring.models import ModelRole, ModelVersion, ModelVersionEvent, ScoringRun

DRIFT_TREND_WINDOWS = 6
TOP_FLAGGED = 10
CANDIDATE_ROLES = (ModelRole.CANARY, ModelRole.SHADOW)


def production_models() -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(role=ModelRole.PRODUCTION)
        .exclude(kind__in=NOT_MODELS)
        .order_by("kind")
    )


# ---------------------------------------------------------------- model layer


def score_histograms(*, now: datetime) -> list[dict]:
    """Per production model: its score histogram over the last 24 h and over the 7 days
    before, as devices per bin and as shares (the two periods have different sizes)."""
    models = production_models()
    day = now - timedelta(days=1)
    rows = (
        ModelRunMetric.objects.filter(
            metric=RunMetric.SCORE_HISTOGRAM,
            model_id__in=[m.model_id for m in models],
            window_end__gt=now - timedelta(days=8),
            window_end__lte=now,
        )
        .values("model_id", "slice")
        .annotate(
            today=Sum("value", filter=Q(window_end__gt=day)),
            baseline=Sum("value", filter=Q(window_end__lte=day)),
        )
    )
    counts: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: {"today": [0.0] * HISTOGRAM_BINS, "baseline": [0.0] * HISTOGRAM_BINS}
    )
    for r in rows:
        index = int(r["slice"].removeprefix("bin:"))
        counts[r["model_id"]]["today"][index] = r["today"] or 0.0
        counts[r["model_id"]]["baseline"][index] = r["baseline"] or 0.0
    edges = [i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)]
    result = []
    for model in models:
        series = counts[model.model_id]
        result.append(
            {
                "model_id": model.model_id,
                "kind": model.kind,
                "bin_edges": edges,
                "today": series["today"],
                "baseline": series["baseline"],
                "today_share": _shares(series["today"]),
                "baseline_share": _shares(series["baseline"]),
            }
        )
    return result


def _shares(counts: list[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def agreement_matrix(*, now: datetime) -> dict:
    """The newest pairwise flag agreement of every pair of production models (last 48 h),
    the newest unanimous agreement, and high-score disagreements."""
    ids = [m.model_id for m in production_models()]
    recent = ModelRunMetric.objects.filter(
        model_id="",
        window_end__gt=now - timedelta(hours=48),
        window_end__lte=now,
    ).order_by("-window_end", "-run_id")
    pairs: dict[tuple[str, str], dict] = {}
    for r in recent.filter(metric=RunMetric.PAIRWISE_AGREEMENT):
        a, b = r.slice.removeprefix("pair:").split("|")
        if a in ids and b in ids and (a, b) not in pairs:
            pairs[(a, b)] = {"value": r.value, "devices": r.devices, "run_id": r.run_id}
    models = sorted({m for pair in pairs for m in pair})
    matrix = [
        [
            1.0 if a == b else (pairs.get((a, b)) or pairs.get((b, a)) or {}).get("value")
            for b in models
        ]
        for a in models
    ]
    latest = {
        metric: recent.filter(metric=metric).first()
        for metric in (RunMetric.UNANIMOUS_AGREEMENT, RunMetric.HIGH_SCORE_DISAGREEMENTS)
    }
    return {
        "models": models,
        "matrix": matrix,
        "pairs": [{"models": list(k), **v} for k, v in sorted(pairs.items())],
        "unanimous": _figure(latest[RunMetric.UNANIMOUS_AGREEMENT]),
        "high_score_disagreements": _figure(latest[RunMetric.HIGH_SCORE_DISAGREEMENTS]),
    }


def _figure(row: ModelRunMetric | None) -> dict | None:
    if row is None:
        return None
    return {
        "value": row.value,
        "devices": row.devices,
        "run_id": row.run_id,
        "window_end": row.window_end,
    }


def contamination_trend(*, now: datetime, days: int = 7) -> list[dict]:
    """Per production model: its anomaly rate per run and its contamination target."""
    result = []
    for model in production_models():
        rows = ModelRunMetric.objects.filter(
            model_id=model.model_id,
            slice="",
            metric__in=[RunMetric.ANOMALY_RATE, RunMetric.CONTAMINATION_TARGET],
            window_end__gt=now - timedelta(days=days),
            window_end__lte=now,
        ).order_by("window_end", "run_id")
        points = [(r.window_end, r.value) for r in rows if r.metric == RunMetric.ANOMALY_RATE]
        targets = [r.value for r in rows if r.metric == RunMetric.CONTAMINATION_TARGET]
        result.append(
            {
                "model_id": model.model_id,
                "kind": model.kind,
                "target": targets[-1] if targets else None,
                "points": [{"window_end": t, "anomaly_rate": v} for t, v in points],
            }
        )
    return result


def feedback(*, now: datetime) -> dict:
    """D9 FP rate (30 and 7 days), fleet-wide and per model or rule, and the hit rate."""
    rates = false_positive_rates(now=now)
    hit, judged = alert_hit_rate(now=now)
    per_model = (
        DeviceAlert.objects.filter(
            severity__in=[Severity.HIGH, Severity.CRITICAL],
            suppressed=False,
            alert_created_at__gte=now - timedelta(days=30),
            alert_created_at__lt=now,
        )
        .values("model_id")
        .annotate(
            alerts=Count("pk"),
            false_positives=Count("pk", filter=Q(status=AlertStatus.FALSE_POSITIVE)),
        )
        .order_by("-alerts")
    )
    return {
        "fp_rate_30d": rates[30][0],
        "alerts_30d": rates[30][1],
        "fp_rate_7d": rates[7][0],
        "alerts_7d": rates[7][1],
        "per_model": [
            {**r, "fp_rate": r["false_positives"] / r["alerts"] if r["alerts"] else None}
            for r in per_model
        ],
        "hit_rate": hit,
        "hit_rate_alerts": judged,
    }


def top_flagged_devices(*, now: datetime, hours: int = 24, limit: int = TOP_FLAGGED) -> list[dict]:
    """The devices production models flagged most often in the last `hours`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.device_id, d.site_id, d.region, d.cohort_id,
                   count(*) AS flags,
                   count(DISTINCT s.model_id) AS models,
                   max(s.anomaly_score) AS max_score,
                   max(s.window_end) AS last_flagged
            FROM model_scores s JOIN registry_device d USING (device_id)
            WHERE s.window_end > %(since)s AND s.window_end <= %(now)s
              AND s.anomaly_flag AND s.deployment_role = 'production'
              AND s.model_id NOT LIKE 'rules_fallback%%'
            GROUP BY s.device_id, d.site_id, d.region, d.cohort_id
            ORDER BY flags DESC, max_score DESC, s.device_id
            LIMIT %(limit)s
            """,
            {"since": now - timedelta(hours=hours), "now": now, "limit": limit},
        )
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def champion_challenger(*, runs: int = 10) -> list[dict]:
    """Every candidate (canary or shadow) against its kind's production version: the latest
    canary and regression reports, the per-run comparison history, and both score
    histograms of the newest run they shared."""
    result = []
    candidates = ModelVersion.objects.filter(role__in=CANDIDATE_ROLES).order_by("kind")
    for candidate in candidates:
        champion = ModelVersion.objects.filter(
            kind=candidate.kind, role=ModelRole.PRODUCTION
        ).first()
        history = []
        for run in ScoringRun.objects.exclude(comparison={}).order_by("-window_end")[: runs * 4]:
            report = run.comparison.get(candidate.model_id)
            if report:
                history.append({"run_id": run.pk, "window_end": run.window_end, **report})
            if len(history) == runs:
                break
        result.append(
            {
                "candidate": candidate.model_id,
                "role": candidate.role,
                "kind": candidate.kind,
                "champion": champion.model_id if champion else None,
                "canary": candidate.validation.get("canary"),
                "regression": candidate.validation.get("regression"),
                "history": history,
                "histograms": _shared_histograms(candidate, champion),
            }
        )
    return result


def _shared_histograms(candidate, champion) -> dict | None:
    if champion is None:
        return None
    latest = (
        ModelRunMetric.objects.filter(model_id=candidate.model_id, metric=RunMetric.SCORE_HISTOGRAM)
        .filter(
            run__in=ModelRunMetric.objects.filter(
                model_id=champion.model_id, metric=RunMetric.SCORE_HISTOGRAM
            ).values("run")
        )
        .aggregate(run=Max("run_id"))["run"]
    )
    if latest is None:
        return None
    bins = {candidate.model_id: [0.0] * HISTOGRAM_BINS, champion.model_id: [0.0] * HISTOGRAM_BINS}
    for r in ModelRunMetric.objects.filter(
        run_id=latest,
        metric=RunMetric.SCORE_HISTOGRAM,
        model_id__in=[candidate.model_id, champion.model_id],
    ):
        bins[r.model_id][int(r.slice.removeprefix("bin:"))] = r.value
    return {
        "run_id": latest,
        "candidate": bins[candidate.model_id],
        "champion": bins[champion.model_id],
    }


def retraining_triggers(*, limit: int = 20) -> list[dict]:
    """The retraining trigger history (monitoring/retraining), newest first."""
    from monitoring.models import RetrainingTrigger

    rows = RetrainingTrigger.objects.order_by("-fired_at").values(
        "pk",
        "trigger_kind",
        "model_kind",
        "fired_at",
        "summary",
        "automated",
        "requested_by",
        "action",
        "status",
        "candidate_id",
        "outcome_reasons",
    )[:limit]
    return [{**r, "id": r.pop("pk"), "candidate": r.pop("candidate_id")} for r in rows]


def registry_events(*, limit: int = 20) -> list[dict]:
    return [
        {
            "model_id": e.model_version.model_id,
            "action": e.action,
            "from_role": e.from_role,
            "to_role": e.to_role,
            "actor": e.actor,
            "reason": e.reason,
            "at": e.at,
        }
        for e in ModelVersionEvent.objects.select_related("model_version")[:limit]
    ]


def open_monitors(*, layers: tuple[str, ...]) -> list[MonitorAlert]:
    """Open monitor alerts of these layers, worst first."""
    alerts = list(MonitorAlert.objects.filter(layer__in=layers, status=MonitorStatus.OPEN))
    return sorted(alerts, key=lambda a: (-SEVERITY_RANK[a.severity], -a.last_seen_at.timestamp()))


def drift_table(
    *, minutes: int = 60, cohort_id: str = "", trend: int = DRIFT_TREND_WINDOWS
) -> dict:
    """The newest drift window of one scope (the fleet, or a cohort), features sorted by KS,
    each with its KS and PSI over the last `trend` windows (oldest first)."""
    scope = FeatureDriftMetric.objects.filter(window_minutes=minutes, cohort_id=cohort_id)
    latest = scope.aggregate(end=Max("window_end"))["end"]
    if latest is None:
        return {"window_end": None, "minutes": minutes, "cohort_id": cohort_id, "rows": []}
    ends = [latest - timedelta(minutes=minutes * k) for k in range(trend - 1, -1, -1)]
    history: dict[str, dict[datetime, FeatureDriftMetric]] = defaultdict(dict)
    for m in scope.filter(window_end__in=ends):
        history[m.feature_name][m.window_end] = m
    rows = []
    for name, by_end in history.items():
        current = by_end.get(latest)
        if current is None:
            continue
        rows.append(
            {
                "feature": name,
                "ks_statistic": current.ks_statistic,
                "ks_p_value": current.ks_p_value,
                "psi": current.psi_value,
                "severity": current.drift_severity,
                "ks_exceeded": current.ks_exceeded,
                "drifting": current.drifting,
                "ks_trend": [getattr(by_end.get(e), "ks_statistic", None) for e in ends],
                "psi_trend": [getattr(by_end.get(e), "psi_value", None) for e in ends],
            }
        )
    rows.sort(key=lambda r: (-(r["ks_statistic"] or -1), r["feature"]))
    check = DriftCheck.objects.filter(
        window_minutes=minutes, cohort_id=cohort_id, window_end=latest
    ).first()
    return {
        "window_end": latest,
        "minutes": minutes,
        "cohort_id": cohort_id,
        "trend_ends": ends,
        "features_drifting": check.features_drifting if check else None,
        "pipeline_suspect": check.pipeline_suspect if check else None,
        "rows": rows,
    }


def drift_cohorts() -> list[str]:
    return list(
        FeatureDriftMetric.objects.exclude(cohort_id="")
        .values_list("cohort_id", flat=True)
        .distinct()
        .order_by("cohort_id")
    )


# ---------------------------------------------------------------- data layer


def hourly_series(
    *, metric: str, now: datetime, hours: int = 48, scope: str = "", key: str | None = None
) -> list[DataQualityHourly]:
    rows = DataQualityHourly.objects.filter(
        metric=metric, scope=scope, hour__gte=now - timedelta(hours=hours), hour__lt=now
    )
    if key is not None:
        rows = rows.filter(key=key)
    return list(rows.order_by("hour", "key"))


def null_rate_grid(*, now: datetime, hours: int = 48) -> dict:
    """Sensors x the last `hours` closed hours of the fleet null rate (None where the hour
    was not computed)."""
    rows = hourly_series(metric=DataQualityMetric.NULL_RATE, now=now, hours=hours)
    # Every hour of the range, computed or not, so the columns keep their width and a
    # missing hour shows as a gap.
    last = now.replace(minute=0, second=0, microsecond=0)
    hour_list = [last - timedelta(hours=k) for k in range(hours, 0, -1)]
    values = {(r.key, r.hour): r.value for r in rows}
    return {
        "hours": hour_list,
        "sensors": list(SENSOR_NAMES),
        "values": [[values.get((s, h)) for h in hour_list] for s in SENSOR_NAMES],
    }


def flag_mix(*, now: datetime, hours: int = 48) -> dict:
    """Per flag: its hourly rate and its 30-day rate, as stored by the hourly job."""
    rows = hourly_series(metric=DataQualityMetric.FLAG_RATE, now=now, hours=hours)
    series = {
        flag: [
            {"hour": r.hour, "rate": r.value, "baseline": r.baseline, "flagged": r.flagged}
            for r in rows
            if r.key == flag
        ]
        for flag in FLAGS
    }
    return {"flags": list(FLAGS), "series": series}


def latest_hour() -> datetime | None:
    return DataQualityHourly.objects.aggregate(hour=Max("hour"))["hour"]


def latest_hour_figures() -> dict:
    """The newest computed hour: readings, availability and null rate per sensor, null rate
    per equipment model, flag rates, completeness per cohort."""
    hour = latest_hour()
    if hour is None:
        return {"hour": None}
    rows = list(DataQualityHourly.objects.filter(hour=hour))

    def pick(metric, scope=""):
        return [r for r in rows if r.metric == metric and r.scope == scope]

    by_model: dict[str, dict[str, float | None]] = defaultdict(dict)
    for r in rows:
        if r.metric == DataQualityMetric.NULL_RATE and r.scope:
            by_model[r.scope][r.key] = r.value
    readings = pick(DataQualityMetric.READINGS)
    completeness = [r for r in rows if r.metric == DataQualityMetric.COMPLETENESS_MEDIAN]
    return {
        "hour": hour,
        "readings": readings[0].total if readings else 0,
        "sensors": [
            {
                "sensor": s.key,
                "null_rate": s.value,
                "null_baseline": s.baseline,
                "null_flagged": s.flagged,
                "availability": a.value,
                "devices_reporting": a.count,
                "devices": a.total,
                "availability_flagged": a.flagged,
            }
            for s, a in zip(
                sorted(pick(DataQualityMetric.NULL_RATE), key=lambda r: SENSOR_NAMES.index(r.key)),
                sorted(
                    pick(DataQualityMetric.AVAILABILITY), key=lambda r: SENSOR_NAMES.index(r.key)
                ),
                strict=False,
            )
        ],
        "null_rate_by_model": {m: dict(v) for m, v in sorted(by_model.items())},
        "flags": [
            {
                "flag": r.key,
                "rate": r.value,
                "baseline": r.baseline,
                "rows": r.count,
                "flagged": r.flagged,
            }
            for r in pick(DataQualityMetric.FLAG_RATE)
        ],
        "quarantine_rate": _value(pick(DataQualityMetric.QUARANTINE_RATE)),
        "dead_letter_rate": _value(pick(DataQualityMetric.DEAD_LETTER_RATE)),
        "completeness": [
            {
                "scope": r.scope or "fleet",
                "median": r.value,
                "windows": r.count,
                "flagged": r.flagged,
            }
            for r in sorted(completeness, key=lambda r: (r.scope != "", r.scope))
        ],
    }


def _value(rows: list[DataQualityHourly]) -> float | None:
    return rows[0].value if rows else None


def drift_by_cohort() -> list[dict]:
    """The newest drift check of every scope, per window length, with its drifting features."""
    result = []
    for minutes in (60, 1440):
        latest = DriftCheck.objects.filter(window_minutes=minutes).aggregate(end=Max("window_end"))
        if latest["end"] is None:
            continue
        drifting = defaultdict(list)
        for cohort_id, feature in FeatureDriftMetric.objects.filter(
            window_minutes=minutes, window_end=latest["end"], drifting=True
        ).values_list("cohort_id", "feature_name"):
            drifting[cohort_id].append(feature)
        for check in DriftCheck.objects.filter(window_minutes=minutes, window_end=latest["end"]):
            result.append(
                {
                    "scope": check.cohort_id or "fleet",
                    "cohort_id": check.cohort_id,
                    "window_minutes": minutes,
                    "window_end": check.window_end,
                    "features_total": check.features_total,
                    "features_exceeded": check.features_exceeded,
                    "features_drifting": check.features_drifting,
                    "drifting_share": check.drifting_share,
                    "pipeline_suspect": check.pipeline_suspect,
                    "current_rows": check.current_rows,
                    "drifting": sorted(drifting[check.cohort_id]),
                }
            )
    result.sort(key=lambda r: (r["window_minutes"], r["cohort_id"] != "", r["cohort_id"]))
    return result


def skew_latest() -> list[dict]:
    """Per model version, its newest skew checks: breaches first, then by how close."""
    latest = TrainingServingSkew.objects.values("model_id").annotate(end=Max("window_end"))
    result = []
    for entry in latest.order_by("model_id"):
        rows = TrainingServingSkew.objects.filter(
            model_id=entry["model_id"], window_end=entry["end"]
        )
        checks = sorted(
            rows,
            key=lambda r: (not r.breached, -((r.statistic or 0) / r.threshold)),
        )
        result.append(
            {
                "model_id": entry["model_id"],
                "window_end": entry["end"],
                "checks": len(checks),
                "breaches": sum(r.breached for r in checks),
                "rows": [
                    {
                        "check": r.check_kind,
                        "feature": r.feature,
                        "training": r.training_value,
                        "serving": r.serving_value,
                        "statistic": r.statistic,
                        "threshold": r.threshold,
                        "breached": r.breached,
                    }
                    for r in checks[:15]
                ],
            }
        )
    return result


def daily_summaries(*, days: int = 14) -> list[DataQualityDailySummary]:
    return list(DataQualityDailySummary.objects.order_by("-day")[:days])
