from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from fleetmon.accounts.models import Role
from fleetmon.accounts.scopes import profile_of


@login_required
def home(request):
    """Each role lands on its own page: managers on the overview, everyone else on the
    triage queue."""
    profile = profile_of(request.user)
    if profile is not None and profile.role == Role.MANAGER:
        return redirect("/overview/")
    return redirect("/alerts/")
