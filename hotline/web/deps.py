"""Dependencies: the application context and the caller's identity, as ``Annotated`` types."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, WebSocket

from hotline.agents.desk import AgentDesk
from hotline.agents.store import AgentStore
from hotline.app.settings import Settings
from hotline.callers.history import CallerHistory
from hotline.core.alerts import SupervisorAlerts
from hotline.core.auth import Principal, TokenError, TokenSigner
from hotline.kb.service import KnowledgeBase
from hotline.metrics.service import MetricsService
from hotline.screenpop.service import ScreenPop
from hotline.supervision.live import LiveView
from hotline.surveys.store import SurveyStore
from hotline.tickets.service import TicketService

WS_AUTH_TIMEOUT = 5.0  # a WebSocket must authenticate within this


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
    tickets: TicketService = field(kw_only=True)
    kb: KnowledgeBase = field(kw_only=True)
    screenpop: ScreenPop = field(kw_only=True)
    callers: CallerHistory = field(kw_only=True)
    surveys: SurveyStore | None = field(default=None, kw_only=True)
    alerts: SupervisorAlerts | None = field(default=None, kw_only=True)
    # /healthz and /readyz: this instance's role (active unless an active/standby pair).
    health: Callable[[], dict[str, str]] = field(default=lambda: {"role": "active"}, kw_only=True)


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


async def ws_principal(ws: WebSocket, ctx: WebContext) -> Principal | None:
    """Accept a WebSocket and read its token from the first message ({"token": ...}), never
    from the URL, so it stays out of access logs. None (the socket closed with 4401) when it
    does not come within ``WS_AUTH_TIMEOUT`` or is not valid."""
    await ws.accept()
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), WS_AUTH_TIMEOUT))
        return ctx.signer.verify(str(first.get("token", "")))
    except (TimeoutError, ValueError, TokenError, AttributeError):
        await ws.close(code=4401, reason="authentication required")
        return None
