"""Login throttling: django-axes on the sign-in forms (/accounts/login/, /admin/login/)."""

import logging

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import render

logger = logging.getLogger(__name__)


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lock-out check for sign-ins that come with a request.

    TRICKY: axes refuses `authenticate()` without a request, which the test client's
    `login()` and shell scripts do. They are not the web forms this guards (both forms pass
    their request), so they skip the check instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def locked_out(request, original_response=None, credentials=None):
    """The lock-out page (AXES_LOCKOUT_CALLABLE): 429, saying for how long, in minutes."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username": username,
        "minutes": round(settings.AXES_COOLOFF_TIME * 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)


@receiver(user_locked_out)
def log_lock_out(sender, request, username, ip_address, **kwargs):
    """One line per lock-out (axes itself is quiet: AXES_VERBOSE is off)."""
    logger.warning("sign-in locked out: username %r from %s", username, ip_address)
