"""The alerts websocket: authenticated, scoped on connect, catch-up from the database, closed
when its session ends."""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from alerts.events import events_since
from fleetmon.accounts.scopes import profile_of, user_groups
from fleetmon.accounts.sessions import session_group, session_valid

logger = logging.getLogger(__name__)

UNAUTHORISED = 4401
# The session that opened the socket ended (logout, expiry, password change): sign in again.
SESSION_ENDED = 4401


class AlertConsumer(AsyncJsonWebsocketConsumer):
    """Joins the groups of the user's scope; pushes every alert event they may see.

    A client sends {"type": "catch_up", "since": <last event id>} after a reconnect or a gap
    in event ids, and gets the missed events from the database.

    A logout closes the socket at once (fleetmon.accounts.sessions tells the session's
    group); expiry and other ends of the session are found by a check every
    FLEETMON_WS_SESSION_CHECK_SECONDS. Either way the socket is closed with SESSION_ENDED.
    """

    async def connect(self):
        self.ended = False
        self.profile = await database_sync_to_async(profile_of)(self.scope.get("user"))
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if self.profile is None or not session_key:
            await self.close(code=UNAUTHORISED)
            return
        self.session_key = session_key
        self.scoped_groups = await database_sync_to_async(user_groups)(self.profile)
        self.scoped_groups.append(session_group(session_key))
        for group in self.scoped_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.watcher = asyncio.create_task(self._watch_session())

    async def disconnect(self, code):
        watcher = getattr(self, "watcher", None)
        if watcher is not None:
            watcher.cancel()
        for group in getattr(self, "scoped_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _watch_session(self):
        interval = settings.FLEETMON_WS_SESSION_CHECK_SECONDS
        while not self.ended:
            await asyncio.sleep(interval)
            try:
                valid = await database_sync_to_async(session_valid)(
                    session_key=self.session_key, user_id=self.scope["user"].pk
                )
            except Exception:
                # A database blip must not end the watch: the next check decides.
                logger.warning("could not check a websocket's session", exc_info=True)
                continue
            if not valid:
                await self._end_session()

    async def _end_session(self):
        if self.ended:
            return
        self.ended = True
        await self.close(code=SESSION_ENDED, reason="session ended: sign in again")

    async def session_ended(self, message):
        await self._end_session()

    async def receive_json(self, content, **kwargs):
        if self.ended:
            return
        if content.get("type") != "catch_up":
            await self.send_json({"type": "error", "detail": "expected {type: catch_up, since}"})
            return
        try:
            since = int(content.get("since", 0))
        except (TypeError, ValueError):
            await self.send_json({"type": "error", "detail": "since must be an event id"})
            return
        for payload in await database_sync_to_async(events_since)(
            profile=self.profile, since=since
        ):
            await self.send_json(payload)

    async def alert_event(self, message):
        if not self.ended:
            await self.send_json(message["payload"])
