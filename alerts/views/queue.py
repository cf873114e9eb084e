"""The triage queue page (/alerts/): the operator's landing page.

The first page of rows is rendered here; static/js/queue.js loads further pages from the
API, applies live events and runs the bulk actions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone

from alerts.api.queue import QueueFilterSerializer, rows_data, without_blanks
from alerts.models import AlertEvent, AlertStatus, AlertType, DeviceAlert, SavedView
from alerts.queue import SEVERITIES_BY_URGENCY, WINDOWS, QueueFilters, queue_page
from fleetmon.accounts.permissions import role_required
from fleetmon.accounts.scopes import scoped_sites
from fleetmon.registry.models import Region
from scoring.detectors.registry import DETECTORS
from scoring.streaming.rules import RULES

STATUS_LABELS = {
    AlertStatus.OPEN: "Open",
    AlertStatus.ACKNOWLEDGED: "Acknowledged",
    AlertStatus.IN_PROGRESS: "In progress",
    AlertStatus.RESOLVED: "Resolved",
    AlertStatus.FALSE_POSITIVE: "False positive",
}
WINDOW_LABELS = {
    "1h": "Last hour",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
}
SITE_SUGGESTIONS = 1000


@role_required()
def alert_queue(request):
    profile = request.profile
    params = without_blanks(request.GET)
    query = QueueFilterSerializer(data=params)
    errors = {} if query.is_valid() else query.errors
    filters = query.queue_filters() if not errors else QueueFilters()
    # Taken before the rows: an alert created in between is then both on the page and
    # replayed by the catch-up (harmless), rather than on neither.
    last_event_id = AlertEvent.objects.aggregate(last=Max("pk"))["last"] or 0
    page = queue_page(profile, filters)
    now = timezone.now()
    rows = [_decorate(row, now) for row in rows_data(page.rows)]
    selected = query.validated_data if not errors else {}
    context = {
        "rows": rows,
        "next_cursor": page.next_cursor,
        "errors": errors,
        "can_triage": profile.can_triage,
        "query_string": _query_string(params),
        "choices": {
            "severity": _checked(SEVERITIES_BY_URGENCY, selected.get("severity")),
            "status": _checked(AlertStatus.values, filters.statuses, STATUS_LABELS),
            "region": _checked(
                Region.values if profile.fleet_wide else sorted(profile.regions),
                selected.get("region"),
            ),
            "alert_type": AlertType.values,
            "source": DeviceAlert.Source.values,
            "window": [(key, WINDOW_LABELS[key]) for key in WINDOWS],
        },
        "selected": {
            "alert_type": next(iter(selected.get("alert_type") or ()), ""),
            "source": next(iter(selected.get("source") or ()), ""),
            "site": next(iter(selected.get("site") or ()), ""),
            "model_id": next(iter(selected.get("model_id") or ()), ""),
            "window": selected.get("window") or "",
            "q": selected.get("q") or "",
            "created_after": _local_input(selected.get("created_after")),
            "created_before": _local_input(selected.get("created_before")),
            "include_suppressed": selected.get("include_suppressed", False),
            "shelved": filters.shelved,
        },
        "sites": scoped_sites(profile).values_list("site_id", "site_name")[:SITE_SUGGESTIONS],
        "models": sorted({*DETECTORS, *RULES}),
        "saved_views": list(
            SavedView.objects.filter(user=request.user).values("id", "name", "filters")
        ),
        "config": {
            "apiUrl": "/api/v1/alerts/",
            "bulkUrl": "/api/v1/alerts/bulk/",
            "savedViewsUrl": "/api/v1/saved-views/",
            "eventsUrl": "/api/v1/alert-events/",
            "query": _query_string(params),
            "statuses": list(filters.statuses),
            "includeSuppressed": filters.include_suppressed,
            "shelved": filters.shelved,
            "canTriage": profile.can_triage,
            "lastEventId": last_event_id,
            "statusLabels": STATUS_LABELS,
            "nextCursor": page.next_cursor,
        },
        "blank_row": {"kind": "alert"},
        "blank_storm": {"kind": "storm"},
    }
    return render(request, "alerts/queue.html", context)


def _query_string(params) -> str:
    """The current filters as a query string (without paging), for the API and the CSV."""
    params = params.copy()
    for navigation in ("cursor", "limit", "storm", "alert_id"):
        params.pop(navigation, None)
    return params.urlencode()


def _checked(values, chosen, labels=None) -> list[dict]:
    chosen = set(chosen or ())
    return [{"value": v, "label": (labels or {}).get(v, v), "checked": v in chosen} for v in values]


def _local_input(value: datetime | None) -> str:
    """A UTC datetime as the value of a datetime-local input (which has no time zone)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if value else ""


def _decorate(row: dict, now: datetime) -> dict:
    """Add what the template shows but the API leaves to the client: labels and the SLA
    and age texts as of rendering (the page ticks them every second)."""
    deadline = datetime.fromisoformat(row["sla_deadline"])
    created = datetime.fromisoformat(row.get("alert_created_at") or row["started_at"])
    status = row.get("status", AlertStatus.OPEN)
    return {
        **row,
        "started_text": f"{created:%Y-%m-%d %H:%M}",
        "status_label": STATUS_LABELS.get(status, status),
        "status": status,
        "created_at": created.isoformat(),
        "sla_text": sla_text(deadline, status, row.get("sla_breached", False), now),
        "sla_late": (status == AlertStatus.OPEN and deadline <= now) or row.get("sla_breached"),
        "shelved_text": _utc_text(row.get("shelved_until")),
        "age_text": age_text(now - created),
    }


def _utc_text(stamp: str | None) -> str:
    return f"{datetime.fromisoformat(stamp).astimezone(UTC):%Y-%m-%d %H:%M} UTC" if stamp else ""


def sla_text(deadline: datetime, status: str, breached: bool, now: datetime) -> str:
    """Same words as static/js/queue.js: a countdown while open, then met or breached."""
    if status != AlertStatus.OPEN:
        return "breached" if breached else "met"
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return f"breached {age_text(now - deadline)} ago"
    return f"{_clock(seconds)} left"


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def age_text(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
