"""The maintenance windows page (/maintenance-windows/): current and upcoming windows in the
user's scope, and a form to set one (static/js/maintenance_windows.js, through the API)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from alerts.api.maintenance_windows import window_row
from alerts.maintenance_windows import windows_visible
from alerts.models import MaintenanceWindow
from fleetmon.accounts.permissions import role_required

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@role_required()
def maintenance_windows_page(request):
    now = timezone.now()
    rows = [window_row(w, now) for w in windows_visible(request.profile, now)]
    rows = [
        {**row, "days_text": ", ".join(WEEKDAYS[d] for d in row["weekdays"])}
        for row in rows
        if row["open_now"] or row["next_start"]
    ]
    return render(
        request,
        "alerts/maintenance_windows.html",
        {
            "windows": rows,
            "can_triage": request.profile.can_triage,
            "scopes": MaintenanceWindow.Scope.choices,
            "weekdays": list(enumerate(WEEKDAYS)),
            # Linked from a device or site page: the form starts on that target.
            "preset": {
                "scope": request.GET.get("scope", ""),
                "target": request.GET.get("target", "")[:64],
            },
        },
    )
