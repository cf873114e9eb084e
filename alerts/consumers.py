"""The alerts websocket: authenticated, scoped on connect, catch-up from the database."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from alerts.events import events_since
from fleetmon.accounts.scopes import profile_of, user_groups

UNAUTHORISED = 4401


class AlertConsumer(AsyncJsonWebsocketConsumer):
    """Joins the groups of the user's scope; pushes every alert event they may see.

    A client sends {"type": "catch_up", "since": <last event id>} after a reconnect or a gap
    in event ids, and gets the missed events from the database.
    """

    async def connect(self):
        self.profile = await database_sync_to_async(profile_of)(self.scope.get("user"))
        if self.profile is None:
            await self.close(code=UNAUTHORISED)
            return
        self.scoped_groups = await database_sync_to_async(user_groups)(self.profile)
        for group in self.scoped_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "scoped_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
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
        await self.send_json(message["payload"])
