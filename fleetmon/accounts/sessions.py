"""Signed-in sessions outside the request cycle: is one still valid, and telling its open
websockets that it ended (alerts/consumers.py closes them)."""

import hashlib
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare

logger = logging.getLogger(__name__)


def session_group(session_key: str) -> str:
    """The channel-layer group of one session's sockets (a digest: keys stay out of Redis)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def session_valid(*, session_key: str, user_id) -> bool:
    """The session still exists, is unexpired and signs in this active user with the current
    password (a password change ends the other sessions)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    data = store.load()  # {} when deleted (logout) or expired
    if str(data.get(SESSION_KEY)) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs):
    """Close the session's open websockets now, not at their next periodic check."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(
            session_group(session_key), {"type": "session.ended"}
        )
    except Exception:  # logging out must work with Redis down
        # The sockets' periodic check closes them instead.
        logger.warning("could not tell the sockets of a logged-out session", exc_info=True)
