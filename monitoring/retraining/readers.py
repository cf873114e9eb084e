"""The triggers' inputs, computed from the source tables: drift checks, model scores and the
run ledger, alerts and labels, maintenance events, the device registry, the model registry.

Each reader returns the plain data its check in monitoring.triggers takes. `now` is always
passed in, so a check can be replayed at another time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q

from alerts.models import AlertStatus, DeviceAlert, LabelEvent, MaintenanceEvent, Severity
from fleetmon.registry.models import Device
from monitoring.models import DriftCheck, DriftScope
from monitoring.triggers import DriftDay, HitCounts, Limits, PairAgreement, RunAgreement, RunRate
from scoring.models import ModelRole, ModelScore, ModelVersion, RunStatus, ScoringRun, ScoringShard

# The rules fallback is not trained: no trigger concerns it.
UNTRAINED_KINDS = ("rules_fallback",)
SEASON_HALF_WIDTH = timedelta(days=7)
YEAR = timedelta(days=365)


def production_versions() -> list[ModelVersion]:
    """The production version of every trained model kind."""
    return list(
        ModelVersion.objects.filter(role=ModelRole.PRODUCTION)
        .exclude(kind__in=UNTRAINED_KINDS)
        .order_by("kind")
    )


def trained_until(kind: str) -> datetime | None:
    """The end of the newest training data of `kind`, candidates included: drift before it
    is already known to a model (or to the ML engineers, if the candidate was rejected)."""
    return ModelVersion.objects.filter(kind=kind).aggregate(end=Max("training_window_end"))["end"]


# ---------------------------------------------------------------- feature drift


def drift_days(*, window_minutes: int, since: datetime | None, now: datetime) -> list[DriftDay]:
    """Per day, the fleet drift check of its latest window of `window_minutes` that started
    after `since` and ended by `now`."""
    checks = DriftCheck.objects.filter(
        scope=DriftScope.FLEET, window_minutes=window_minutes, window_end__lte=now
    ).order_by("window_end")
    if since is not None:
        checks = checks.filter(window_start__gte=since)
    latest: dict = {}
    for check in checks.only(
        "window_start", "window_end", "features_exceeded", "features_total", "pipeline_suspect"
    ):
        latest[check.window_start.date()] = check  # ordered: the day's last window wins
    return [
        DriftDay(
            day=day,
            features_breached=check.features_exceeded,
            features_total=check.features_total,
            pipeline_suspect=check.pipeline_suspect,
            window_end=check.window_end,
        )
        for day, check in sorted(latest.items())
    ]


def drift_seen_last_year(*, window_minutes: int, around: datetime, limits: Limits) -> bool:
    """Whether the fleet drifted the same way a year earlier (± a week): then the drift is
    seasonal, and a baseline update answers it (§5.7, §5.2 "seasonal → season-aware
    baseline")."""
    then = around - YEAR
    return DriftCheck.objects.filter(
        scope=DriftScope.FLEET,
        window_minutes=window_minutes,
        window_end__gte=then - SEASON_HALF_WIDTH,
        window_end__lte=then + SEASON_HALF_WIDTH,
        features_exceeded__gt=limits.drift_min_features,
    ).exists()


# ---------------------------------------------------------------- anomaly rate


def production_run_rates(*, version: ModelVersion, runs: int, now: datetime) -> list[RunRate]:
    """The anomaly rate of `version` in each of its newest `runs` finished production runs."""
    recent = list(
        ScoringShard.objects.filter(
            model_version=version,
            deployment_role=ModelRole.PRODUCTION,
            run__finished_at__isnull=False,
            run__window_end__lte=now,
        )
        .values_list("run_id", "run__window_end")
        .distinct()
        .order_by("-run__window_end", "-run_id")[:runs]
    )
    if not recent:
        return []
    ends = {run_id: end for run_id, end in recent}
    counts = (
        ModelScore.objects.filter(
            model_id=version.model_id,
            run_id__in=list(ends),
            window_end__in=set(ends.values()),
            deployment_role=ModelRole.PRODUCTION,
        )
        .values("run_id")
        .annotate(scored=Count("score_id"), flagged=Count("score_id", filter=Q(anomaly_flag=True)))
    )
    by_run = {row["run_id"]: row for row in counts}
    return [
        RunRate(
            run_id=run_id,
            window_end=end,
            scored=by_run.get(run_id, {}).get("scored", 0),
            flagged=by_run.get(run_id, {}).get("flagged", 0),
        )
        for run_id, end in recent
    ]


def contamination_target(version: ModelVersion, limits: Limits) -> float:
    """The rate the model was calibrated to flag: its own contamination, else ~5 % (§5.3)."""
    return float(version.params.get("contamination", limits.contamination_target))


# ---------------------------------------------------------------- agreement

_PAIRS_SQL = """
    SELECT a.model_id, b.model_id, count(*),
           count(*) FILTER (WHERE a.anomaly_flag = b.anomaly_flag)
    FROM model_scores a
    JOIN model_scores b
      ON b.device_id = a.device_id AND b.window_end = a.window_end AND b.model_id > a.model_id
    WHERE a.run_id = %(run)s AND b.run_id = %(run)s
      AND a.window_end = %(end)s AND b.window_end = %(end)s
      AND a.model_id = ANY(%(models)s) AND b.model_id = ANY(%(models)s)
    GROUP BY 1, 2
    ORDER BY 1, 2
"""


def daily_run_agreement(*, runs: int, now: datetime) -> list[RunAgreement]:
    """Pairwise flag agreement of the production models in each of the newest daily runs."""
    daily = ScoringRun.objects.filter(
        trigger=ScoringRun.Trigger.DAILY,
        window_minutes=15,
        finished_at__isnull=False,
        window_end__lte=now,
    ).order_by("-window_end", "-pk")[:runs]
    result = []
    for run in daily:
        models = list(
            run.shards.filter(deployment_role=ModelRole.PRODUCTION, status=RunStatus.SUCCEEDED)
            .exclude(model_version__kind__in=UNTRAINED_KINDS)
            .values_list("model_version__model_id", flat=True)
            .distinct()
        )
        pairs: tuple[PairAgreement, ...] = ()
        if len(models) >= 2:
            with connection.cursor() as cursor:
                cursor.execute(_PAIRS_SQL, {"run": run.pk, "end": run.window_end, "models": models})
                pairs = tuple(PairAgreement(*row) for row in cursor.fetchall())
        result.append(RunAgreement(run_id=run.pk, window_end=run.window_end, pairs=pairs))
    return result


# ---------------------------------------------------------------- false positives


def false_positive_counts(*, since: datetime, until: datetime) -> dict:
    """HIGH+CRITICAL alerts raised in [since, until) and how many operators called false
    positives (status false_positive, or a false_positive label on the alert)."""
    labelled = LabelEvent.objects.filter(
        alert=OuterRef("pk"), label_type=LabelEvent.LabelType.FALSE_POSITIVE
    )
    alerts = DeviceAlert.objects.filter(
        severity__in=(Severity.HIGH, Severity.CRITICAL),
        suppressed=False,
        alert_created_at__gte=since,
        alert_created_at__lt=until,
    ).annotate(labelled_fp=Exists(labelled))
    is_fp = Q(status=AlertStatus.FALSE_POSITIVE) | Q(labelled_fp=True)
    by_source = alerts.values("source").annotate(
        alerts=Count("pk"), false_positives=Count("pk", filter=is_fp)
    )
    breakdown = {
        row["source"]: {"alerts": row["alerts"], "false_positives": row["false_positives"]}
        for row in by_source.order_by("source")
    }
    return {
        "alerts": sum(b["alerts"] for b in breakdown.values()),
        "false_positives": sum(b["false_positives"] for b in breakdown.values()),
        "by_source": breakdown,
    }


# ---------------------------------------------------------------- fleet change


def fleet_counts(*, version: ModelVersion, now: datetime, days: int) -> dict:
    """Active devices, and those new to `version`: installed within `days` days and after
    the end of its training data."""
    active = Device.objects.filter(is_active=True)
    newer = active.filter(install_date__gte=(now - timedelta(days=days)).date())
    if version.training_window_end is not None:
        newer = newer.filter(install_date__gt=version.training_window_end.date())
    return {
        "active": active.count(),
        "new": newer.count(),
        "training_window_end": (
            version.training_window_end.isoformat() if version.training_window_end else None
        ),
    }


# ---------------------------------------------------------------- calendar


def last_retrain(kind: str) -> datetime | None:
    """When `kind` was last retrained: its newest version, or the production version's
    promotion if that is later (a version brought back by a rollback counts as fresh)."""
    newest = ModelVersion.objects.filter(kind=kind).aggregate(
        created=Max("created_at"), promoted=Max("promoted_at")
    )
    times = [t for t in (newest["created"], newest["promoted"]) if t is not None]
    return max(times) if times else None


# ---------------------------------------------------------------- hit rate


def hit_counts(*, start: datetime, end: datetime, follow_days: int) -> HitCounts:
    """Alerts raised in [start, end) and how many were followed by maintenance on the device
    within `follow_days` days (or scheduled from the alert itself)."""
    follow = timedelta(days=follow_days)
    maintenance = MaintenanceEvent.objects.filter(
        Q(triggered_by_alert=OuterRef("pk"))
        | Q(
            device=OuterRef("device"),
            created_at__gte=OuterRef("alert_created_at"),
            created_at__lte=OuterRef("alert_created_at") + follow,
        )
    )
    counts = (
        DeviceAlert.objects.filter(
            suppressed=False, alert_created_at__gte=start, alert_created_at__lt=end
        )
        .annotate(hit=Exists(maintenance))
        .aggregate(alerts=Count("pk"), hits=Count("pk", filter=Q(hit=True)))
    )
    return HitCounts(start=start, end=end, alerts=counts["alerts"], hits=counts["hits"])
