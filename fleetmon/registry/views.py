"""Pages: a device (charts, alerts, maintenance, threshold editor), sites, one site, and the
management overview. The same reads as the API (fleetmon.registry.api), rendered."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from alerts.models import ThresholdScope
from alerts.threshold_views import format_value, history_for, parameter_rows
from fleetmon.accounts.permissions import role_required
from fleetmon.accounts.scopes import scoped_sites
from fleetmon.readings.api import RANGES
from fleetmon.registry import summaries
from fleetmon.registry.api import OVERVIEW_ROLES, device_detail, overview_for, site_detail
from fleetmon.registry.charts import score_figure, weekly_alerts_figure
from fleetmon.registry.overview import SEVERITIES

DEFAULT_RANGE = "24h"
HISTORY_ROWS = 50


def _range(request) -> str:
    chosen = request.GET.get("range", DEFAULT_RANGE)
    return chosen if chosen in RANGES else DEFAULT_RANGE


def _threshold_context(request, device) -> dict:
    profile = request.profile
    rows = [
        {
            **vars(row),
            "effective_text": format_value(row.effective),
            "device_text": format_value(row.device_value),
            "cohort_text": format_value(row.cohort_value),
            "default_text": format_value(row.default),
            "min_text": format_value(row.min),
            "max_text": format_value(row.max),
        }
        for row in parameter_rows(device)
    ]
    history = [
        {
            "entry": entry,
            "old_text": format_value(entry.old_value) or "none",
            "new_text": format_value(entry.new_value) or "none",
            "can_revert": profile.can_triage
            if entry.scope == ThresholdScope.DEVICE
            else profile.can_manage_models,
        }
        for entry in history_for(device)[:HISTORY_ROWS]
    ]
    return {"threshold_rows": rows, "threshold_history": history}


@role_required()
def device_page(request, device_id: str):
    """A device in scope (else 404): health, alerts, charts, maintenance, thresholds."""
    device = device_detail(request.profile, device_id)
    chosen = _range(request)
    end = timezone.now()
    start = end - RANGES[chosen]
    scores = summaries.score_history(device_id=device.pk, start=start, end=end)
    return render(
        request,
        "registry/device.html",
        {
            "device": device,
            "ranges": list(RANGES),
            "range": chosen,
            "score_figure": score_figure(scores, start=start, end=end),
            "can_triage": request.profile.can_triage,
            **_threshold_context(request, device),
        },
    )


@role_required()
def sites_page(request):
    """Sites in scope with their device health, devices in alert and open alerts."""
    sites = scoped_sites(request.profile)
    query = request.GET.get("q", "").strip()
    if query:
        sites = sites.filter(Q(site_id__icontains=query) | Q(site_name__icontains=query))
    sites = summaries.sites_with_stats(sites).order_by("-critical_count", "site_id")
    page = Paginator(sites, 50).get_page(request.GET.get("page"))
    for site in page:
        site.health_status = summaries.site_health(site)
    return render(request, "registry/sites.html", {"page": page, "q": query})


@role_required()
def site_page(request, site_id: str):
    """A site in scope (else 404): its devices, worst first, and its open alerts."""
    site = site_detail(request.profile, site_id)
    site.health_status = summaries.site_health(site)
    return render(
        request, "registry/site.html", {"site": site, "can_triage": request.profile.can_triage}
    )


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _hours(hours: float | None) -> str:
    if hours is None:
        return "–"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


@role_required(*OVERVIEW_ROLES)
def overview_page(request):
    """The management overview: devices, alerts week over week, SLA, time to maintenance."""
    data = overview_for(request.profile)
    wow = data["week_over_week"]
    severity_rows = [
        {
            "severity": s,
            "this_week": wow["this_week"][s],
            "last_week": wow["last_week"][s],
            "change": wow["change"][s],
        }
        for s in SEVERITIES
    ]
    sla_rows = [
        {"severity": s, **data["sla"][s], "compliance_text": _percent(data["sla"][s]["compliance"])}
        for s in (*SEVERITIES, "ALL")
    ]
    mttm = data["time_to_maintenance"]
    return render(
        request,
        "registry/overview.html",
        {
            "data": data,
            "severity_rows": severity_rows,
            "sla_rows": sla_rows,
            "sla_all": sla_rows[-1],
            "mttm": mttm,
            "mttm_mean": _hours(mttm["mean_hours"]),
            "mttm_median": _hours(mttm["median_hours"]),
            "weekly_figure": weekly_alerts_figure(
                [(week["start"], week["counts"]) for week in data["weeks"]]
            ),
        },
    )
