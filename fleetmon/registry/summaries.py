"""Reads behind the device and site pages (and their API): open alerts, maintenance, scores,
and per-site roll-ups of device health. Callers pass querysets already cut to a user's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from fleetmon.readings.history import bucket_for
from fleetmon.registry.models import Device, HealthStatus, Site

OPEN_ALERT_LIMIT = 100
# Worst first: what needs a person comes to the top of a list.
HEALTH_ORDER = (
    HealthStatus.CRITICAL,
    HealthStatus.OFFLINE,
    HealthStatus.WARNING,
    HealthStatus.HEALTHY,
)


def open_alerts(**where):
    """Active, unsuppressed alerts (what an operator still has to act on), most urgent first:
    by severity, then SLA deadline, as the triage queue orders them."""
    from alerts.models import ACTIVE_STATUSES, SEVERITY_RANK, DeviceAlert

    rank = Case(
        *(When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        DeviceAlert.objects.filter(status__in=ACTIVE_STATUSES, suppressed=False, **where)
        .select_related("device")
        .annotate(severity_rank=rank)
        .order_by("-severity_rank", "sla_deadline")
    )


def maintenance_history(device: Device, *, limit: int = 50):
    from alerts.models import MaintenanceEvent

    return MaintenanceEvent.objects.filter(device=device).order_by("-scheduled_date")[:limit]


def latest_scores(device: Device) -> list[dict]:
    """The newest score of each model (production, canary and shadow) for the device."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (model_id, deployment_role)
                   model_id, model_version, deployment_role, anomaly_score, anomaly_flag,
                   window_end
            FROM model_scores
            WHERE device_id = %s AND window_end >= %s
            ORDER BY model_id, deployment_role, window_end DESC
            """,
            # Scores are kept 90 days (domain §7.5); older ones say nothing about now.
            [device.pk, timezone.now() - timedelta(days=90)],
        )
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class ScoreHistory:
    bucket_minutes: int | None  # None: every scored window, not bucketed
    # (model_id, deployment_role) -> [(bucket start, highest score in the bucket)]
    series: dict[tuple[str, str], list[tuple[datetime, float]]]


def score_history(*, device_id: str, start: datetime, end: datetime) -> ScoreHistory:
    """Scores per model over [start, end), bucketed in SQL (the bucket keeps its highest
    score, so a short spike survives a 30-day view)."""
    bucket = bucket_for(start, end)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT model_id, deployment_role,
                   date_bin(%(bucket)s, window_end, TIMESTAMPTZ '2000-01-01') AS t,
                   max(anomaly_score)
            FROM model_scores
            WHERE device_id = %(device)s AND window_end >= %(start)s AND window_end < %(end)s
            GROUP BY model_id, deployment_role, t
            ORDER BY model_id, deployment_role, t
            """,
            {"bucket": timedelta(minutes=bucket), "device": device_id, "start": start, "end": end},
        )
        series: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        for model_id, role, t, score in cursor.fetchall():
            series.setdefault((model_id, role), []).append((t, score))
    return ScoreHistory(bucket_minutes=bucket, series=series)


# ------------------------------------------------------------------------------- sites


def _count_of(queryset, column: str):
    """A correlated COUNT(DISTINCT column) per site, 0 when there is none."""
    counted = (
        queryset.filter(site_id=OuterRef("pk"))
        .order_by()
        .values("site_id")
        .annotate(n=Count(column, distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def sites_with_stats(sites: QuerySet[Site]) -> QuerySet[Site]:
    """Sites with device counts by health, devices in alert, open alerts and mean score."""
    from alerts.models import ACTIVE_STATUSES, DeviceAlert

    active = Q(devices__is_active=True)
    alerts = DeviceAlert.objects.filter(status__in=ACTIVE_STATUSES, suppressed=False)

    def health(status: str):
        return Count("devices", filter=active & Q(devices__health_status=status))

    return sites.annotate(
        device_count=Count("devices", filter=active),
        healthy_count=health(HealthStatus.HEALTHY),
        warning_count=health(HealthStatus.WARNING),
        critical_count=health(HealthStatus.CRITICAL),
        offline_count=health(HealthStatus.OFFLINE),
        avg_anomaly_score=Avg("devices__latest_anomaly_score", filter=active),
        devices_in_alert=_count_of(alerts, "device_id"),
        open_alert_count=_count_of(alerts, "alert_id"),
    )


def site_health(site: Site) -> str:
    """Site health (domain §7.1: healthy | degraded | critical) from its devices' D14 health:
    one critical device makes the site critical (food is at risk somewhere in it); a warning
    or offline device makes it degraded."""
    if getattr(site, "critical_count", 0):
        return "critical"
    if getattr(site, "warning_count", 0) or getattr(site, "offline_count", 0):
        return "degraded"
    return "healthy"


def site_devices(site: Site) -> QuerySet[Device]:
    """A site's devices with their count of open alerts, worst health first."""
    from alerts.models import ACTIVE_STATUSES

    return (
        site.devices.annotate(
            open_alert_count=Count(
                "alerts",
                filter=Q(alerts__status__in=ACTIVE_STATUSES, alerts__suppressed=False),
            )
        )
        .annotate(
            health_rank=Case(
                *(When(health_status=h, then=Value(i)) for i, h in enumerate(HEALTH_ORDER)),
                default=Value(len(HEALTH_ORDER)),
                output_field=IntegerField(),
            )
        )
        .order_by("-is_active", "health_rank", "device_id")
        .select_related("cohort")
    )
