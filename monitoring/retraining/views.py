"""The retraining page: the trigger history with evidence and outcomes, and a manual retrain
form, for ML engineers and admins."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from fleetmon.accounts.permissions import role_required
from monitoring.models import RetrainingTrigger
from monitoring.retraining.api import retrain_start_request
from monitoring.retraining.services import RETRAINABLE_KINDS, RetrainRefused
from scoring.models import ModelRole, ModelVersion

HISTORY = 100


class RetrainForm(forms.Form):
    model_kind = forms.ChoiceField(
        label="Model kind", choices=[(k, k.replace("_", " ")) for k in RETRAINABLE_KINDS]
    )
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. firmware 4.3 rollout, missed failures at a site, a threshold fix",
    )
    threshold = forms.FloatField(
        label="Score threshold (optional)",
        required=False,
        min_value=0.01,
        max_value=0.99,
        help_text="leave empty to keep the model's default",
    )


@role_required("ml_engineer", "admin")
@require_http_methods(["GET", "POST"])
def retraining(request):
    form = RetrainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            trigger = retrain_start_request(actor=request.user.username, **fields)
        except RetrainRefused as exc:
            form.add_error("model_kind", str(exc))
        else:
            messages.success(
                request,
                f"Retrain of {trigger.model_kind} started (trigger #{trigger.pk}). The candidate"
                " goes to canary, then is promoted or rejected automatically.",
            )
            return redirect("monitoring-retraining")
    triggers = list(RetrainingTrigger.objects.select_related("candidate")[:HISTORY])
    rows = [
        {"trigger": t, "evidence": json.dumps(t.evidence, indent=2, sort_keys=True, default=str)}
        for t in triggers
    ]
    production = ModelVersion.objects.filter(role=ModelRole.PRODUCTION).order_by("kind")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "monitoring/retraining.html",
        {
            "form": form,
            "rows": rows,
            "open_count": sum(1 for t in triggers if t.is_open),
            "production": production,
        },
        status=status,
    )
