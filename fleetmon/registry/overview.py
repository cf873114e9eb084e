"""The management overview (domain §5.5): devices monitored, alerts by severity week over
week, SLA compliance and mean time to maintenance after HIGH alerts.

Each figure is a function over querysets the caller has cut to a user's scope, with `now`
passed in, so tests pin it on crafted data. Suppressed alerts (D6 duplicates of an active
one) are not alerts anyone handles, so no figure counts them; nor does any figure count
devices out of service or their alerts. Weeks are rolling 7-day spans
ending `now`: a calendar week would compare a partial week with a whole one.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery

from fleetmon.registry.models import HealthStatus, in_service

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
WEEK = timedelta(days=7)
# An alert counts as answered at its first event of these kinds (domain §7.3 actions).
RESPONSE_KINDS = ("acknowledged", "maintenance_scheduled", "resolved", "false_positive")
SLA_PERIOD = timedelta(days=30)
MTTM_PERIOD = timedelta(days=30)
MTTM_SEVERITIES = ("HIGH", "CRITICAL")


def devices_monitored(devices: QuerySet, *, now: datetime) -> dict:
    """Active devices in service, how many are in each D14 health state, and how many
    are out of service (counted apart, in no other figure)."""
    active = devices.filter(is_active=True)
    monitored = active.filter(in_service(now))
    counts = dict(monitored.order_by().values_list("health_status").annotate(n=Count("pk")))
    return {
        "active": sum(counts.values()),
        "by_health": {h.value: counts.get(h.value, 0) for h in HealthStatus},
        "out_of_service": active.exclude(in_service(now)).count(),
    }


def alerts_per_week(alerts: QuerySet, *, now: datetime, weeks: int = 8) -> list[dict]:
    """Alerts created per rolling week and severity, oldest week first:
    [{"start", "end", "counts": {severity: n}}]."""
    spans = [(now - WEEK * (i + 1), now - WEEK * i) for i in reversed(range(weeks))]
    per_week = {
        f"w{i}": Count("pk", filter=Q(alert_created_at__gte=start, alert_created_at__lt=end))
        for i, (start, end) in enumerate(spans)
    }
    rows = (
        alerts.filter(suppressed=False, alert_created_at__gte=spans[0][0], alert_created_at__lt=now)
        .order_by()
        .values("severity")
        .annotate(**per_week)
    )
    by_severity = {row["severity"]: row for row in rows}
    return [
        {
            "start": start,
            "end": end,
            "counts": {s: by_severity.get(s, {}).get(f"w{i}", 0) for s in SEVERITIES},
        }
        for i, (start, end) in enumerate(spans)
    ]


def week_over_week(weeks: list[dict]) -> dict:
    """This week against the one before, per severity, from `alerts_per_week` output."""
    this, last = weeks[-1]["counts"], weeks[-2]["counts"]
    return {
        "this_week": this,
        "last_week": last,
        "change": {s: this[s] - last[s] for s in SEVERITIES},
        "this_week_total": sum(this.values()),
        "last_week_total": sum(last.values()),
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def sla_compliance(alerts: QuerySet, *, now: datetime, period: timedelta = SLA_PERIOD) -> dict:
    """Per severity, over alerts created in the period: answered at or before the SLA deadline
    (met), answered late or not at all past it (breached), or not answered and not yet due
    (pending, left out of the share)."""
    from alerts.models import AlertEvent

    first_response = (
        AlertEvent.objects.filter(alert=OuterRef("pk"), kind__in=RESPONSE_KINDS)
        .order_by()
        .values("alert")
        .annotate(first=Min("at"))
        .values("first")
    )
    answered_in_time = Q(first_response__lte=F("sla_deadline"))
    late = Q(first_response__gt=F("sla_deadline"))
    unanswered = Q(first_response__isnull=True)
    rows = (
        alerts.filter(
            suppressed=False, alert_created_at__gte=now - period, alert_created_at__lt=now
        )
        .annotate(first_response=Subquery(first_response))
        .order_by()
        .values("severity")
        .annotate(
            met=Count("pk", filter=answered_in_time),
            breached=Count("pk", filter=late | (unanswered & Q(sla_deadline__lt=now))),
            pending=Count("pk", filter=unanswered & Q(sla_deadline__gte=now)),
        )
    )
    found = {row["severity"]: row for row in rows}
    result: dict = {}
    for severity in (*SEVERITIES, "ALL"):
        picked = found.values() if severity == "ALL" else [found.get(severity, {})]
        met = sum(r.get("met", 0) for r in picked)
        breached = sum(r.get("breached", 0) for r in picked)
        pending = sum(r.get("pending", 0) for r in picked)
        result[severity] = {
            "met": met,
            "breached": breached,
            "pending": pending,
            "compliance": _ratio(met, met + breached),
        }
    return result


def time_to_maintenance(
    alerts: QuerySet, *, now: datetime, period: timedelta = MTTM_PERIOD
) -> dict:
    """From a HIGH or CRITICAL alert's creation to the first maintenance event it triggered,
    over alerts created in the period; alerts without maintenance are counted apart."""
    from alerts.models import MaintenanceEvent

    first_job = (
        MaintenanceEvent.objects.filter(triggered_by_alert=OuterRef("pk"))
        .order_by()
        .values("triggered_by_alert")
        .annotate(first=Min("created_at"))
        .values("first")
    )
    rows = list(
        alerts.filter(
            suppressed=False,
            severity__in=MTTM_SEVERITIES,
            alert_created_at__gte=now - period,
            alert_created_at__lt=now,
        )
        .annotate(first_job=Subquery(first_job))
        .order_by()
        .values_list("alert_created_at", "first_job")
    )
    hours = [(job - created).total_seconds() / 3600 for created, job in rows if job is not None]
    return {
        "alerts": len(rows),
        "with_maintenance": len(hours),
        "mean_hours": statistics.fmean(hours) if hours else None,
        "median_hours": statistics.median(hours) if hours else None,
    }


def fleet_overview(*, devices: QuerySet, alerts: QuerySet, now: datetime) -> dict:
    """Everything the overview page and API show. Devices out of service, and their alerts,
    are in no figure (fleetmon.registry.out_of_service)."""
    alerts = alerts.filter(in_service(now, prefix="device__"))
    weeks = alerts_per_week(alerts, now=now)
    return {
        "generated_at": now,
        "devices": devices_monitored(devices, now=now),
        "week_over_week": week_over_week(weeks),
        "weeks": weeks,
        "sla": sla_compliance(alerts, now=now),
        "time_to_maintenance": time_to_maintenance(alerts, now=now),
    }
