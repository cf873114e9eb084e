"""The operations / on-call dashboard page (/monitoring/ops/)."""

from django.shortcuts import render
from django.utils import timezone

from fleetmon.accounts.permissions import role_required
from monitoring.infra.api import OPS_ROLES
from monitoring.ops_dashboard import (
    freshness_heatmap_figure,
    ops_overview,
    readings_figure,
    runbook_link,
    sla_sparkline,
)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@role_required(*OPS_ROLES)
def ops_dashboard(request):
    data = ops_overview(now=timezone.now())
    for row in data["slas"]:
        row["sparkline"] = sla_sparkline(row) if row["history"] else None
        row["sparkline_id"] = f"sla-{row['sla']}"
    for row in data["jobs"]:
        runtime = row["runtime_seconds"]
        row["runtime_text"] = (
            f"{runtime:.1f} s" if runtime is not None and runtime < 120 else (_duration(runtime))
        )
        row["delay_text"] = _duration(row["delay_seconds"])
    for row in data["freshness"]["datasets"]:
        late = row["lateness_seconds"]
        row["late_text"] = "no data" if late is None else _duration(late)
        row["sla_text"] = _duration(row["sla_seconds"])
    share = data["quarantine"]["share"]
    text = {
        "quarantine_share": "–" if share is None else f"{share * 100:.2f} %",
        "latency_p95": _duration(data["scoring"]["latency_p95_seconds"]),
        "latency_limit": _duration(data["scoring"]["latency_limit_seconds"]),
    }
    workers = data["heartbeats"]["workers"]
    return render(
        request,
        "monitoring/ops.html",
        {
            "data": data,
            "text": text,
            "alerts": [
                {"alert": a, "runbook": runbook_link(a.runbook)} for a in data["monitor_alerts"]
            ],
            "heatmap_figure": freshness_heatmap_figure(data["freshness_heatmap"]),
            "readings_figure": readings_figure(data["readings_per_hour"]),
            "workers_ok": bool(workers) and all(w["ok"] for w in workers),
        },
    )
