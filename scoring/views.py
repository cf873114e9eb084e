from django.shortcuts import render
from django.utils import timezone

from fleetmon.accounts.permissions import role_required
from scoring.models import ScoringRun
from scoring.services.runs import run_progress
from scoring.services.staleness import scoring_staleness


@role_required()
def runs(request):
    """Recent scoring runs with their progress, for ML engineers (refreshes itself)."""
    recent = list(ScoringRun.objects.prefetch_related("shards")[:30])
    rows = [{"run": run, "progress": run_progress(run)} for run in recent]
    return render(
        request,
        "scoring/runs.html",
        {"rows": rows, "staleness": scoring_staleness(now=timezone.now())},
    )
