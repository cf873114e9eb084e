from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from fleetmon.registry import selectors


@login_required
def home(request):
    """Fleet at a glance: devices by health, dropout and region."""
    return render(request, "home.html", {"summary": selectors.fleet_summary()})
