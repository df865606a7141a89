"""The request id: every HTTP request (and WebSocket) gets one, its log lines carry it and the
response names it, so a centre's proxy, the client and the service's log can be matched up.

An ``X-Request-ID`` the client (or a proxy in front) sends is kept when it is short and made of
safe characters; anything else (too long, spaces, quotes, control characters: a way to forge
log lines) is replaced by a new id. Nothing here logs: no header, and so never an
``Authorization`` one, reaches the log from this middleware.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.core.logs import log_context

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
MAX_LENGTH = 64
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def accepted(value: str | None) -> str | None:
    """``value`` if it may serve as a request id, else None."""
    if value is None or len(value) > MAX_LENGTH or not _SAFE.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI (no task of its own): the id is set in the request's context before the
    application runs, so every line logged for the request, in its task and in the threads it
    starts, carries ``request_id``."""

    def __init__(self, app: ASGIApp, new_id: Callable[[], str] = new_request_id) -> None:
        self.app = app
        self._new_id = new_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = None
        for key, value in scope.get("headers", ()):
            if key == _HEADER_KEY:
                given = value.decode("latin-1")
                break
        rid = accepted(given) or self._new_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        with log_context(request_id=rid):
            await self.app(scope, receive, send_with_id)
