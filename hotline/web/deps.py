"""Dependencies: the application context and the caller's identity, as ``Annotated`` types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from hotline.agents import AgentDesk
from hotline.auth import Principal, TokenError, TokenSigner
from hotline.live import LiveView
from hotline.reporting import MetricsService
from hotline.settings import Settings
from hotline.store.agents import AgentStore


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    signer: TokenSigner
    agents: AgentStore
    desk: AgentDesk
    live: LiveView
    metrics: MetricsService
    exposition: Callable[[], Awaitable[str]]  # the Prometheus text, built on request
    # When set, /metrics wants "Authorization: Bearer <this>" (for a scraper on another host).
    metrics_token: str = ""


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


Ctx = Annotated[WebContext, Depends(context)]


def principal(ctx: Ctx, authorization: Annotated[str | None, Header()] = None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
    try:
        return ctx.signer.verify(token)
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
