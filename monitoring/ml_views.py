"""Pages: the ML engineer dashboard (/monitoring/ml/) and the data-health page
(/monitoring/data/), for ML engineers and admins. The same reads as the API
(monitoring.ml_api); charts are rendered on load and refreshed from its figures endpoints."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from fleetmon.accounts.permissions import role_required
from monitoring import ml_dashboard as reads
from monitoring.data_quality import (
    AVAILABILITY_MIN,
    COMPLETENESS_MIN_MEDIAN,
    FLAG_RATE_FACTOR,
    NULL_RATE_CHANGE,
)
from monitoring.detection.api import detection_section
from monitoring.ml_api import ML_ROLES, data_figures, data_summary, ml_figures, ml_summary
from monitoring.model_health import (
    FP_RATE_MAX,
    HIT_DAYS,
    PAIRWISE_MIN,
    UNANIMOUS_MIN,
)

DRIFT_WINDOWS = (60, 1440)


def _figures_by_id(figures: list[dict]) -> dict[str, dict]:
    """Figures keyed by id, each with the id of the JSON script element that carries it."""
    return {f["id"]: {**f, "script_id": f"fig-{f['id']}"} for f in figures}


def _drift_choice(request) -> tuple[int, str, list[str]]:
    """The drift table's window and cohort from the query string (unknown values: fleet,
    hourly windows)."""
    cohorts = reads.drift_cohorts()
    try:
        window = int(request.GET.get("window", 60))
    except ValueError:
        window = 60
    window = window if window in DRIFT_WINDOWS else 60
    cohort = request.GET.get("cohort", "")
    return window, (cohort if cohort in cohorts else ""), cohorts


@role_required(*ML_ROLES)
def ml_dashboard_page(request):
    now = timezone.now()
    window, cohort, cohorts = _drift_choice(request)
    figures = _figures_by_id(ml_figures(now))
    summary = ml_summary(now)
    for entry in summary["champion_challenger"]:
        entry["figure"] = figures[f"challenger-{entry['candidate']}"]
    return render(
        request,
        "monitoring/ml_dashboard.html",
        {
            "data": summary,
            "histograms": [f for f in figures.values() if f["id"].startswith("histogram-")],
            "figures": figures,
            "drift": reads.drift_table(minutes=window, cohort_id=cohort),
            "drift_windows": DRIFT_WINDOWS,
            "drift_window": window,
            "drift_cohort": cohort,
            "cohorts": cohorts,
            "detection": detection_section(now),
            "limits": {
                "fp": FP_RATE_MAX,
                "pairwise": PAIRWISE_MIN,
                "unanimous": UNANIMOUS_MIN,
                "hit_days": HIT_DAYS,
            },
        },
    )


@role_required(*ML_ROLES)
def data_health_page(request):
    now = timezone.now()
    return render(
        request,
        "monitoring/data_health.html",
        {
            "data": data_summary(now),
            "figures": _figures_by_id(data_figures(now)),
            "limits": {
                "null_change": NULL_RATE_CHANGE,
                "flag_factor": FLAG_RATE_FACTOR,
                "completeness": COMPLETENESS_MIN_MEDIAN,
                "availability": AVAILABILITY_MIN,
            },
        },
    )
