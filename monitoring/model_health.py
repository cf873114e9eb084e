"""The model layer (domain §5.3, §5.4 `compute_model_drift` / `compute_model_agreement`):
after every scoring run, the figures of each model version that scored in it, stored in
`model_run_metrics`, and the model monitors of the production models.

Per model version: devices, mean score, score std, p95, anomaly rate (overall and per
cohort, region and equipment model), its contamination target and score histogram. Across
the run's production models: pairwise and unanimous flag agreement and high-score
disagreements. Fleet-wide: the operator false-positive rate (D9, 30 and 7 days) and the
alert hit rate against maintenance. Candidates (canary, shadow) get their figures too, for
the champion-vs-challenger view, but only production models raise monitors.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from alerts.models import AlertStatus, DeviceAlert, MaintenanceEvent, Severity
from monitoring.model_metrics import Metric, above, agreement_metrics, below, model_metrics
from monitoring.models import ModelRunMetric, MonitorLayer, RunMetric
from monitoring.monitors import monitor_clear, monitor_raise
from scoring.models import ModelRole, ModelVersion, ModelVersionEvent, ScoringRun

logger = logging.getLogger(__name__)

# Domain §5.3 thresholds.
MEAN_SHIFT_MAX = 0.05  # fleet mean score vs its 7-day rolling mean
RATE_OFF_TARGET = 0.03  # anomaly rate vs the contamination target (also D15's trigger)
RATE_SPIKE = 0.15  # runbook "anomaly rate spike": ~5 % -> > 15 %
STD_MIN = 0.05  # score std below this: the model has collapsed
P95_SHIFT_MAX = 0.1  # score p95 vs its 30-day p95
SLICE_OFF_BASELINE = 0.03  # a slice's anomaly rate vs its own 7-day baseline
PAIRWISE_MIN = 0.85
UNANIMOUS_MIN = 0.75
HIGH_SCORE_DISAGREEMENTS_MAX = 50  # devices per run
FP_RATE_MAX = 0.20  # D9
MEAN_BASELINE = timedelta(days=7)
P95_BASELINE = timedelta(days=30)
SLICE_BASELINE = timedelta(days=7)
# Ours: a baseline needs a few earlier runs; rates of tiny runs or slices are noise; an FP
# rate needs enough judged alerts; an alert counts as a hit when maintenance follows
# within HIT_DAYS ([EVAL] measures maintenance lift over 1-7 days).
MIN_BASELINE_RUNS = 3
MIN_RUN_DEVICES = 20
MIN_SLICE_DEVICES = 20
MIN_FP_ALERTS = 10
HIT_DAYS = 7
HIT_WINDOW = timedelta(days=30)
DEFAULT_CONTAMINATION = 0.05
# The rules fallback is a safety net, not a model: no score distribution, no vote.
NOT_MODELS = ("rules_fallback",)

RUNBOOKS = {
    "model_anomaly_rate": "anomaly-rate-spike",
    "model_anomaly_rate_spike": "anomaly-rate-spike",
    "model_score_collapse": "model-score-shift",
    "model_mean_score_shift": "model-score-shift",
    "model_p95_shift": "model-score-shift",
    "model_slice_anomaly_rate": "slice-anomaly-rate",
    "model_pairwise_agreement": "model-agreement",
    "model_unanimous_agreement": "model-divergence",
    "model_high_score_disagreement": "model-agreement",
    "model_false_positive_rate": "false-positive-rate",
}
FP_SUBJECT = "HIGH+CRITICAL alerts, 7 days"


# ---------------------------------------------------------------- reads


def run_scores(run: ScoringRun) -> pd.DataFrame:
    """The run's scores with each device's cohort, region and equipment model."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.model_id, s.deployment_role, s.device_id, s.window_end, s.anomaly_score,
                   s.anomaly_flag, coalesce(d.cohort_id, '') AS cohort_id,
                   coalesce(d.region, '') AS region,
                   coalesce(d.equipment_model, '') AS equipment_model
            FROM model_scores s LEFT JOIN registry_device d USING (device_id)
            WHERE s.window_end = %(window_end)s AND s.run_id = %(run_id)s
            """,
            {"window_end": run.window_end, "run_id": run.pk},
        )
        columns = [c.name for c in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def false_positive_rates(*, now: datetime) -> dict[int, tuple[float | None, int]]:
    """D9: false_positive / HIGH+CRITICAL alerts created in the last 30 and 7 days
    (suppressed duplicates excluded): {days: (rate, alerts)}."""
    alerts = DeviceAlert.objects.filter(
        severity__in=[Severity.HIGH, Severity.CRITICAL],
        suppressed=False,
        alert_created_at__lt=now,
    )
    rates = {}
    for days in (30, 7):
        totals = alerts.filter(alert_created_at__gte=now - timedelta(days=days)).aggregate(
            alerts=Count("pk"), fp=Count("pk", filter=Q(status=AlertStatus.FALSE_POSITIVE))
        )
        n = totals["alerts"]
        rates[days] = (totals["fp"] / n if n else None, n)
    return rates


def alert_hit_rate(*, now: datetime) -> tuple[float | None, int]:
    """Share of HIGH+CRITICAL alerts followed by maintenance on their device within
    HIT_DAYS (or scheduled from the alert itself), over the alerts of the last 30 days old
    enough to have had their HIT_DAYS."""
    follow = timedelta(days=HIT_DAYS)
    maintenance = MaintenanceEvent.objects.filter(
        Q(triggered_by_alert=OuterRef("pk"))
        | Q(
            device=OuterRef("device"),
            scheduled_date__gte=OuterRef("alert_created_at"),
            scheduled_date__lte=OuterRef("follow_until"),
        )
    )
    alerts = (
        DeviceAlert.objects.filter(
            severity__in=[Severity.HIGH, Severity.CRITICAL],
            suppressed=False,
            alert_created_at__gte=now - HIT_WINDOW,
            alert_created_at__lte=now - follow,
        )
        .annotate(follow_until=F("alert_created_at") + follow)
        .annotate(hit=Exists(maintenance))
    )
    totals = alerts.aggregate(alerts=Count("pk"), hits=Count("pk", filter=Q(hit=True)))
    n = totals["alerts"]
    return (totals["hits"] / n if n else None), n


def contamination_target(version: ModelVersion) -> float:
    """The anomaly rate the version was built to produce: its contamination parameter, else
    its validation anomaly rate at training, else the fleet default (5 %)."""
    contamination = (version.params or {}).get("contamination")
    if contamination is not None:
        return float(contamination)
    trained = (
        ModelVersionEvent.objects.filter(model_version=version, action="trained")
        .order_by("-at")
        .first()
    )
    rate = (trained.details or {}).get("validation_anomaly_rate") if trained else None
    return float(rate) if rate is not None else DEFAULT_CONTAMINATION


def _history(run: ScoringRun, model_ids: list[str]) -> pd.DataFrame:
    rows = ModelRunMetric.objects.filter(
        model_id__in=model_ids,
        metric__in=[RunMetric.MEAN_SCORE, RunMetric.SCORE_P95, RunMetric.ANOMALY_RATE],
        window_minutes=run.window_minutes,
        window_end__gte=run.window_end - P95_BASELINE,
        window_end__lt=run.window_end,
    ).values("model_id", "metric", "slice", "window_end", "value")
    return pd.DataFrame(list(rows), columns=["model_id", "metric", "slice", "window_end", "value"])


def _baseline(history: pd.DataFrame, metric: Metric, run: ScoringRun) -> float | None:
    """The mean of this figure over the earlier runs of its window (7 or 30 days)."""
    span = {
        RunMetric.MEAN_SCORE: MEAN_BASELINE,
        RunMetric.SCORE_P95: P95_BASELINE,
        RunMetric.ANOMALY_RATE: SLICE_BASELINE,
    }.get(metric.metric)
    if span is None or history.empty:
        return None
    earlier = history[
        (history["model_id"] == metric.model_id)
        & (history["metric"] == metric.metric)
        & (history["slice"] == metric.slice)
        & (history["window_end"] >= run.window_end - span)
    ]["value"].dropna()
    return float(earlier.mean()) if len(earlier) >= MIN_BASELINE_RUNS else None


# ---------------------------------------------------------------- the job


def model_health_compute(
    *, run_id: int, now: datetime | None = None, monitors: bool = True
) -> list[ModelRunMetric]:
    """Compute and store the model-layer figures of a finished run; re-runs replace.

    1. Read the run's scores (the rules fallback left out) with each device's slices.
    2. Per model version: distribution, anomaly rate overall and per slice, histogram,
       contamination target. Across production versions: agreement figures.
    3. Fleet-wide: FP rate over 30 and 7 days, alert hit rate.
    4. Baselines from the stored figures of earlier runs of the same window length.
    5. Store; then raise or clear the production models' monitors, unless the run scored
       a single device or too few to judge (MIN_RUN_DEVICES).
    """
    run = ScoringRun.objects.filter(pk=run_id).first()
    if run is None:
        return []
    now = now or run.finished_at or timezone.now()
    scores = run_scores(run)
    versions = {
        v.model_id: v
        for v in ModelVersion.objects.filter(model_id__in=scores["model_id"].unique().tolist())
    }
    # Scores of versions no longer registered, and of the rules fallback, are left out.
    scored_models = [m for m, v in versions.items() if v.kind not in NOT_MODELS]
    scores = scores[scores["model_id"].isin(scored_models)]
    roles = scores.groupby("model_id")["deployment_role"].first().to_dict()
    voters = [m for m, role in roles.items() if role == ModelRole.PRODUCTION]
    figures = model_metrics(scores) + agreement_metrics(scores, voters)
    figures += [
        Metric(m, RunMetric.CONTAMINATION_TARGET, contamination_target(versions[m])) for m in roles
    ]
    fp_rates = false_positive_rates(now=now)
    (fp30, n30), (fp7, n7) = fp_rates[30], fp_rates[7]
    hit, n_hit = alert_hit_rate(now=now)
    figures += [
        Metric("", RunMetric.FALSE_POSITIVE_RATE_30D, fp30, devices=n30),
        Metric("", RunMetric.FALSE_POSITIVE_RATE_7D, fp7, devices=n7),
        Metric("", RunMetric.HIT_RATE, hit, devices=n_hit),
    ]
    history = _history(run, list(roles))
    rows = [
        ModelRunMetric(
            run=run,
            window_end=run.window_end,
            window_minutes=run.window_minutes,
            model_id=f.model_id,
            kind=versions[f.model_id].kind if f.model_id else "",
            deployment_role=roles.get(f.model_id, ""),
            metric=f.metric,
            slice=f.slice,
            value=f.value,
            baseline=_baseline(history, f, run) if f.model_id else None,
            devices=f.devices,
            computed_at=timezone.now(),
        )
        for f in figures
    ]
    with transaction.atomic():
        ModelRunMetric.objects.filter(run=run).delete()
        ModelRunMetric.objects.bulk_create(rows, batch_size=2000)
    if monitors and not run.device_id:
        _monitors(run, rows, versions, now=now)
    logger.info("model health of run %s: %d figures for %d models", run.pk, len(rows), len(roles))
    return rows


# ---------------------------------------------------------------- monitors


def _fire(monitor: str, subject: str, breached: bool, *, now, **alert) -> None:
    if breached:
        monitor_raise(
            monitor=monitor,
            layer=MonitorLayer.MODEL,
            subject=subject,
            runbook=RUNBOOKS[monitor],
            now=now,
            **alert,
        )
    else:
        monitor_clear(monitor=monitor, subject=subject, now=now)


def _monitors(run: ScoringRun, rows: list[ModelRunMetric], versions, *, now) -> None:
    evidence = {"run_id": run.pk, "window_end": run.window_end.isoformat()}
    by_model: dict[str, dict[tuple[str, str], ModelRunMetric]] = {}
    for r in rows:
        by_model.setdefault(r.model_id, {})[(r.metric, r.slice)] = r
    for model_id, figures in by_model.items():
        if not model_id or figures[(RunMetric.DEVICES, "")].deployment_role != ModelRole.PRODUCTION:
            continue
        if figures[(RunMetric.DEVICES, "")].devices < MIN_RUN_DEVICES:
            continue
        _model_monitors(versions[model_id], figures, evidence, now=now)
    _fleet_monitors(by_model.get("", {}), versions, evidence, now=now)


def _model_monitors(version, figures, evidence, *, now) -> None:
    kind, model_id = version.kind, version.model_id
    rate = figures[(RunMetric.ANOMALY_RATE, "")]
    target = figures[(RunMetric.CONTAMINATION_TARGET, "")].value
    off = rate.value - target
    _fire(
        "model_anomaly_rate",
        kind,
        above(abs(off), RATE_OFF_TARGET),
        now=now,
        severity=Severity.MEDIUM,
        title=f"{model_id} flags {rate.value:.1%} of devices (target {target:.1%})",
        description=(
            "The anomaly rate is more than 3 points off the version's contamination target "
            "(domain §5.3). Five runs in a row make a retraining trigger (§5.7)."
        ),
        evidence={**evidence, "model_id": model_id, "anomaly_rate": rate.value, "target": target},
    )
    _fire(
        "model_anomaly_rate_spike",
        kind,
        above(rate.value, RATE_SPIKE),
        now=now,
        severity=Severity.HIGH,
        title=f"Anomaly rate spike: {model_id} flags {rate.value:.1%} of devices",
        description="Above 15 % (normally about 5 %): follow the anomaly-rate-spike runbook.",
        evidence={**evidence, "model_id": model_id, "anomaly_rate": rate.value, "target": target},
    )
    std = figures[(RunMetric.SCORE_STD, "")].value
    _fire(
        "model_score_collapse",
        kind,
        below(std, STD_MIN),
        now=now,
        severity=Severity.HIGH,
        title=f"{model_id} scores have collapsed (std {std:.3f})",
        description="The score standard deviation is below 0.05: the model no longer "
        "separates devices (domain §5.3).",
        evidence={**evidence, "model_id": model_id, "score_std": std},
    )
    for metric, monitor, limit, label in (
        (RunMetric.MEAN_SCORE, "model_mean_score_shift", MEAN_SHIFT_MAX, "7-day mean"),
        (RunMetric.SCORE_P95, "model_p95_shift", P95_SHIFT_MAX, "30-day p95"),
    ):
        figure = figures[(metric, "")]
        if figure.baseline is None:
            continue
        change = figure.value - figure.baseline
        _fire(
            monitor,
            kind,
            above(abs(change), limit),
            now=now,
            severity=Severity.MEDIUM,
            title=(
                f"{model_id} {metric.replace('_', ' ')} {figure.value:.3f} "
                f"({change:+.3f} vs the {label})"
            ),
            description=f"Changed by more than {limit:g} against the {label} (domain §5.3).",
            evidence={
                **evidence,
                "model_id": model_id,
                "value": figure.value,
                "baseline": figure.baseline,
            },
        )
    for (metric, slice_), figure in figures.items():
        if metric != RunMetric.ANOMALY_RATE or not slice_ or figure.baseline is None:
            continue
        if figure.devices < MIN_SLICE_DEVICES:
            continue
        change = figure.value - figure.baseline
        _fire(
            "model_slice_anomaly_rate",
            f"{kind} {slice_}",
            above(abs(change), SLICE_OFF_BASELINE),
            now=now,
            severity=Severity.LOW,
            title=(
                f"{model_id} flags {figure.value:.1%} in {slice_} "
                f"(its baseline {figure.baseline:.1%})"
            ),
            description="A slice's anomaly rate is more than 3 points off its own 7-day "
            "baseline (domain §5.3): look for a site or device model that dominates.",
            evidence={
                **evidence,
                "model_id": model_id,
                "slice": slice_,
                "anomaly_rate": figure.value,
                "baseline": figure.baseline,
                "devices": figure.devices,
            },
        )


def _fleet_monitors(figures, versions, evidence, *, now) -> None:
    """Agreement among the production models, and the operators' FP rate."""
    kinds = {}
    for (metric, slice_), figure in figures.items():
        if metric == RunMetric.PAIRWISE_AGREEMENT and figure.devices >= MIN_RUN_DEVICES:
            a, b = slice_.removeprefix("pair:").split("|")
            kinds |= {a: versions[a].kind, b: versions[b].kind}
            _fire(
                "model_pairwise_agreement",
                f"{versions[a].kind} ~ {versions[b].kind}",
                below(figure.value, PAIRWISE_MIN),
                now=now,
                severity=Severity.MEDIUM,
                title=f"{a} and {b} agree on {figure.value:.1%} of devices",
                description="Pairwise flag agreement below 85 % (domain §5.3).",
                evidence={
                    **evidence,
                    "models": [a, b],
                    "agreement": figure.value,
                    "devices": figure.devices,
                },
            )
    group = ", ".join(sorted(set(kinds.values())))
    unanimous = figures.get((RunMetric.UNANIMOUS_AGREEMENT, ""))
    if unanimous is not None and unanimous.devices >= MIN_RUN_DEVICES and group:
        _fire(
            "model_unanimous_agreement",
            group,
            below(unanimous.value, UNANIMOUS_MIN),
            now=now,
            severity=Severity.HIGH,
            title=f"Production models agree unanimously on {unanimous.value:.1%} of devices",
            description="Unanimous flag agreement below 75 %: model divergence (runbook).",
            evidence={**evidence, "agreement": unanimous.value, "devices": unanimous.devices},
        )
    disagreements = figures.get((RunMetric.HIGH_SCORE_DISAGREEMENTS, ""))
    if disagreements is not None and group:
        _fire(
            "model_high_score_disagreement",
            group,
            above(disagreements.value, HIGH_SCORE_DISAGREEMENTS_MAX),
            now=now,
            severity=Severity.MEDIUM,
            title=(
                f"{disagreements.value:.0f} devices scored > 0.8 by one model and < 0.3 by another"
            ),
            description="More than 50 high-score disagreements in one run (domain §5.3).",
            evidence={**evidence, "devices": disagreements.value},
        )
    fp = figures.get((RunMetric.FALSE_POSITIVE_RATE_7D, ""))
    if fp is not None and fp.value is not None and fp.devices >= MIN_FP_ALERTS:
        _fire(
            "model_false_positive_rate",
            FP_SUBJECT,
            above(fp.value, FP_RATE_MAX),
            now=now,
            severity=Severity.MEDIUM,
            title=f"Operators marked {fp.value:.1%} of HIGH/CRITICAL alerts false positive",
            description="Over the last 7 days, above 20 % (D9). Usually a threshold fix.",
            evidence={**evidence, "fp_rate_7d": fp.value, "alerts": fp.devices},
        )


# ---------------------------------------------------------------- wiring


def connect_signals() -> None:
    """Compute the model figures after every scoring run (call from MonitoringConfig.ready)."""
    from monitoring.tasks import model_health_task
    from scoring.signals import run_finished

    def on_run_finished(sender, run_id: int, **kwargs) -> None:
        model_health_task.delay(run_id)

    run_finished.connect(on_run_finished, dispatch_uid="monitoring.model_health", weak=False)


def disconnect_signals() -> None:
    from scoring.signals import run_finished

    run_finished.disconnect(dispatch_uid="monitoring.model_health")
