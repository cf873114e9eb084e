"""An ASGI guard that refuses a request body past FLEETMON_INGEST_MAX_BODY_BYTES as it arrives.

Django's ASGI handler reads the whole body (to memory, then a temporary file) before any
view runs, and a chunked body declares no length: without this, a client could stream
gigabytes to disk before the ingest view's own check. Past the limit, the request is
answered 413 with a JSON body naming it, and what the client still sends is left unread.
"""

from __future__ import annotations

import orjson
from django.conf import settings


def body_limit_message(limit: int) -> str:
    return f"Request body exceeds the limit of {limit} bytes (FLEETMON_INGEST_MAX_BODY_BYTES)."


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.FLEETMON_INGEST_MAX_BODY_BYTES
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            if started:  # a view reading its body after answering: nothing left to say
                return
            body = orjson.dumps({"detail": body_limit_message(limit)})
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
