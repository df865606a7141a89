"""Dependencies: the services routes ask for by type, and who is calling, as ``Annotated`` types.

The application keeps a registry of the objects its routes need, one per type (services,
stores, and small typed settings values such as ``LocalTime``), on ``app.state``. A feature's
routes declare what they need from it, e.g.::

    KbDep = Annotated[KnowledgeBase, Depends(provided(KnowledgeBase))]

and the wiring (``hotline/app/web.py``) registers the instances. Nothing here knows any
feature: this module imports ``hotline.core`` only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated, Any, TypeVar, overload

from fastapi import Depends, FastAPI, Header, HTTPException, WebSocket
from starlette.requests import HTTPConnection

from hotline.core.auth import Principal, TokenError, TokenSigner

T = TypeVar("T")
WS_AUTH_TIMEOUT = 5.0  # a WebSocket must authenticate within this


# -- the registry ------------------------------------------------------------------------------
class Registry:
    """What the routes may ask for: at most one instance per type."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], object] = {}

    def add(self, *instances: object) -> None:
        """Register each instance under its own class (a later one replaces an earlier one);
        None is skipped (a feature that is switched off)."""
        for instance in instances:
            if instance is not None:
                self._by_type[type(instance)] = instance

    def get(self, cls: type[T]) -> T:
        found = self.find(cls)
        if found is None:
            raise LookupError(f"no {cls.__name__} is registered with the web application")
        return found

    def find(self, cls: type[T]) -> T | None:
        found = self._by_type.get(cls)
        if found is None:  # a subclass registered (a test's stand-in, ...)
            found = next((i for i in self._by_type.values() if isinstance(i, cls)), None)
        return found if isinstance(found, cls) else None


def registry(app: FastAPI) -> Registry:
    """The application's registry (made on first use)."""
    found = getattr(app.state, "registry", None)
    if not isinstance(found, Registry):
        found = app.state.registry = Registry()
    return found


def provide(app: FastAPI, instances: Iterable[object]) -> None:
    registry(app).add(*instances)


def _registry_of(conn: HTTPConnection) -> Registry:
    return registry(conn.app)


# ``HTTPConnection`` is both a request and a WebSocket: the same providers serve both.
def provided(cls: type[T]) -> Callable[[HTTPConnection], T]:
    """A dependency giving the registered ``cls`` (HTTP routes and WebSockets alike)."""

    def dependency(conn: HTTPConnection) -> T:
        return _registry_of(conn).get(cls)

    dependency.__name__ = f"provided_{cls.__name__}"
    return dependency


def optional(cls: type[T]) -> Callable[[HTTPConnection], T | None]:
    """A dependency giving the registered ``cls``, or None when the feature is switched off."""

    def dependency(conn: HTTPConnection) -> T | None:
        return _registry_of(conn).find(cls)

    dependency.__name__ = f"optional_{cls.__name__}"
    return dependency


# -- small typed settings values ---------------------------------------------------------------
@dataclass(frozen=True)
class LocalTime:
    """The hotline's time zone: a time without a zone in a request is local time, and times
    in responses are given in it (a deadline reads as "…T18:00:00+08:00")."""

    tz: tzinfo
    name: str  # e.g. "Asia/Shanghai"

    @overload
    def local(self, t: datetime) -> datetime: ...
    @overload
    def local(self, t: None) -> None: ...
    def local(self, t: datetime | None) -> datetime | None:
        return t.astimezone(self.tz) if t is not None else None

    @overload
    def aware(self, t: datetime) -> datetime: ...
    @overload
    def aware(self, t: None) -> None: ...
    def aware(self, t: datetime | None) -> datetime | None:
        if t is None or t.tzinfo is not None:
            return t
        return t.replace(tzinfo=self.tz)


Local = Annotated[LocalTime, Depends(provided(LocalTime))]
Signer = Annotated[TokenSigner, Depends(provided(TokenSigner))]


# -- who is calling ----------------------------------------------------------------------------
def principal(signer: Signer, authorization: Annotated[str | None, Header()] = None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
    try:
        return signer.verify(token)
    except TokenError as exc:
        raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None


Caller = Annotated[Principal, Depends(principal)]


def supervisor(who: Caller) -> Principal:
    if not who.supervises:
        raise HTTPException(403, "supervisor role required")
    return who


def admin(who: Caller) -> Principal:
    if not who.has("admin"):
        raise HTTPException(403, "admin role required")
    return who


Supervisor = Annotated[Principal, Depends(supervisor)]
Admin = Annotated[Principal, Depends(admin)]


def self_or_supervisor(who: Principal, agent_id: str) -> None:
    """Agents see and act on their own record only; supervisors on anyone's."""
    if who.agent_id != agent_id and not who.supervises:
        raise HTTPException(403, "agents may only access their own data")


async def ws_principal(ws: WebSocket, signer: TokenSigner) -> Principal | None:
    """Accept a WebSocket and read its token from the first message ({"token": ...}), never
    from the URL, so it stays out of access logs. None (the socket closed with 4401) when it
    does not come within ``WS_AUTH_TIMEOUT`` or is not valid."""
    await ws.accept()
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), WS_AUTH_TIMEOUT))
        return signer.verify(str(first.get("token", "")))
    except (TimeoutError, ValueError, TokenError, AttributeError):
        await ws.close(code=4401, reason="authentication required")
        return None
