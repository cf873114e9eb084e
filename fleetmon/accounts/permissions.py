"""Role and scope enforcement for DRF endpoints and pages: the server decides, never the UI.

Every signed-in user needs a Profile (superusers count as admin). Reads are open to every
role within scope; writes need the capability of the action (Profile.can_*).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from fleetmon.accounts.scopes import profile_of


class HasProfile(BasePermission):
    """Signed in with a role; anyone else is refused."""

    message = "your account has no FleetMon role; ask an admin to give it one"

    def has_permission(self, request, view) -> bool:
        request.profile = profile_of(request.user)
        return request.profile is not None


class CanTriageOrReadOnly(HasProfile):
    message = "only operators and admins may change alerts and device thresholds"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or request.profile.can_triage


class CanManageModelsOrReadOnly(HasProfile):
    message = "only ML engineers and admins may change models, runs and cohort thresholds"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or request.profile.can_manage_models


def role_required(*roles: str):
    """Page decorator: signed in (else the login page), with one of `roles` (else 403).
    No roles means any role. Sets request.profile."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            profile = profile_of(request.user)
            if profile is None or (roles and profile.role not in roles):
                raise PermissionDenied("this page is not open to your role")
            request.profile = profile
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
