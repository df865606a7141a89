"""REST and WebSocket routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from hotline.agents.store import Agent
from hotline.core.auth import Principal, check_password, hash_password
from hotline.core.errors import Invalid
from hotline.metrics.render import bounds, to_csv, to_html
from hotline.web.deps import (
    Admin,
    Caller,
    Ctx,
    Supervisor,
    WebContext,
    self_or_supervisor,
    ws_principal,
)
from hotline.web.schemas import (
    AgentEventOut,
    AgentIn,
    AgentOut,
    LoginIn,
    PauseIn,
    TokenRequest,
    TokenResponse,
)

api = APIRouter(prefix="/api")
pages = APIRouter()
STATIC = Path(__file__).parent / "static"


def _out(ctx: WebContext, a: Agent) -> AgentOut:
    return AgentOut(
        agent_id=a.agent_id,
        name=a.name,
        extension=a.extension,
        roles=list(a.roles),
        skills=a.skills,
        logged_in_extension=a.logged_in_extension,
        paused=a.paused,
        pause_reason=a.pause_reason,
        state_since=a.state_since.timestamp() if a.state_since else None,
        queues=sorted(ctx.desk.queues_for(a)),
        pbx=ctx.desk.pbx_of(a.logged_in_extension or a.extension),
    )


@api.post("/auth/token")
async def token(body: TokenRequest, ctx: Ctx) -> TokenResponse:
    stored = await asyncio.to_thread(ctx.agents.password_hash, body.agent_id)
    ok = stored is not None and await asyncio.to_thread(check_password, body.password, stored)
    if not ok:
        raise HTTPException(401, "unknown agent or wrong password")
    agent = await asyncio.to_thread(ctx.agents.get, body.agent_id)
    who = Principal(agent.agent_id, agent.roles)
    return TokenResponse(
        token=ctx.signer.issue(who),
        agent_id=who.agent_id,
        roles=list(who.roles),
        expires_in=ctx.signer.ttl,
    )


@api.get("/me")
async def me(who: Caller, ctx: Ctx) -> AgentOut:
    return _out(ctx, await ctx.desk.get(who.agent_id))


@api.get("/agents")
async def list_agents(_: Supervisor, ctx: Ctx) -> list[AgentOut]:
    return [_out(ctx, a) for a in await asyncio.to_thread(ctx.agents.all)]


@api.put("/agents/{agent_id}")
async def put_agent(agent_id: str, body: AgentIn, _: Admin, ctx: Ctx) -> AgentOut:
    if body.agent_id != agent_id:
        raise Invalid("agent.id_mismatch", "the body's agent_id differs from the URL's")
    bad = [r for r in body.roles if r not in ("agent", "supervisor", "admin")]
    if bad:
        raise Invalid("agent.bad_role", f"unknown role(s) {bad}")
    pw = await asyncio.to_thread(hash_password, body.password) if body.password else None
    agent, _created = await asyncio.to_thread(
        lambda: ctx.agents.upsert(
            agent_id,
            name=body.name,
            extension=body.extension,
            roles=body.roles,
            skills=body.skills,
            password_hash=pw,
        )
    )
    return _out(ctx, agent)


@api.get("/agents/{agent_id}")
async def get_agent(agent_id: str, who: Caller, ctx: Ctx) -> AgentOut:
    self_or_supervisor(who, agent_id)
    return _out(ctx, await ctx.desk.get(agent_id))


@api.get("/agents/{agent_id}/events")
async def agent_events(agent_id: str, who: Caller, ctx: Ctx) -> list[AgentEventOut]:
    self_or_supervisor(who, agent_id)
    rows = await asyncio.to_thread(ctx.agents.events, agent_id)
    return [AgentEventOut(event=r.event, reason=r.reason, extension=r.extension,
                          at=r.at.timestamp(), pbx=r.pbx) for r in rows]  # fmt: skip


async def _change(
    ctx: WebContext, who: Principal, agent_id: str, change: Callable[[], Awaitable[Agent]]
) -> AgentOut:
    self_or_supervisor(who, agent_id)
    agent = await change()
    ctx.live.changed()
    return _out(ctx, agent)


@api.post("/agents/{agent_id}/login")
async def login(agent_id: str, body: LoginIn, who: Caller, ctx: Ctx) -> AgentOut:
    return await _change(ctx, who, agent_id, lambda: ctx.desk.login(agent_id, body.extension))


@api.post("/agents/{agent_id}/logout")
async def logout(agent_id: str, who: Caller, ctx: Ctx) -> AgentOut:
    return await _change(ctx, who, agent_id, lambda: ctx.desk.logout(agent_id))


@api.post("/agents/{agent_id}/pause")
async def pause(agent_id: str, body: PauseIn, who: Caller, ctx: Ctx) -> AgentOut:
    return await _change(ctx, who, agent_id, lambda: ctx.desk.pause(agent_id, body.reason))


@api.post("/agents/{agent_id}/unpause")
async def unpause(agent_id: str, who: Caller, ctx: Ctx) -> AgentOut:
    return await _change(ctx, who, agent_id, lambda: ctx.desk.unpause(agent_id))


@api.get("/metrics")
async def metrics(
    _: Supervisor,
    ctx: Ctx,
    since: datetime,
    until: datetime,
    group: Annotated[list[str] | None, Query()] = None,
    pbx: str | None = None,
) -> dict[str, object]:
    """Metrics for [since, until) grouped by total, agent, queue, language, kind, region, pbx,
    hour, day; ``pbx``: only that PBX's calls."""
    since, until = _aware(since, ctx), _aware(until, ctx)
    groups = group or ["total"]
    return await asyncio.to_thread(lambda: ctx.metrics.compute(since, until, groups, pbx=pbx))


def _aware(t: datetime, ctx: WebContext) -> datetime:
    # A time without a zone is the hotline's local time.
    return t if t.tzinfo is not None else t.replace(tzinfo=ctx.settings.tz)


@api.get("/reports/{period}")
async def report(
    period: str, _: Supervisor, ctx: Ctx, day: date | None = None, format: str = "html"
) -> Response:
    """The daily, weekly or monthly report containing ``day`` (default today), HTML or CSV."""
    tz = ctx.settings.tz
    # "Now" is the ticket service's clock, as everywhere in the API (tests inject one).
    since, until = bounds(period, day or ctx.tickets.now().astimezone(tz).date(), tz)
    data = await asyncio.to_thread(ctx.metrics.report, since, until)
    if format == "csv":
        return Response(to_csv(data), media_type="text/csv; charset=utf-8")
    if format != "html":
        raise Invalid("report.bad_format", "format must be html or csv")
    return HTMLResponse(to_html(period, data, tz))


@api.get("/live")
async def live(_: Supervisor, ctx: Ctx) -> dict[str, object]:
    return await ctx.live.snapshot()


@api.websocket("/live/ws")
async def live_ws(ws: WebSocket) -> None:
    """Supervisors only. The token comes as the first message ({"token": ...}), not in the URL,
    so it never lands in access logs."""
    ctx: WebContext = ws.app.state.ctx
    who = await ws_principal(ws, ctx)
    if who is None:
        return
    if not who.supervises:
        await ws.close(code=4403, reason="supervisor role required")
        return
    queue = ctx.live.subscribe()
    try:
        await ws.send_json(await ctx.live.snapshot())
        while True:
            await ws.send_json(await queue.get())
    except WebSocketDisconnect:
        pass
    finally:
        ctx.live.unsubscribe(queue)
        with contextlib.suppress(RuntimeError):
            await ws.close()


@pages.get("/metrics", response_class=PlainTextResponse)
async def prometheus(
    ctx: Ctx, authorization: Annotated[str | None, Header()] = None
) -> PlainTextResponse:
    if ctx.metrics_token and not hmac.compare_digest(
        authorization or "", f"Bearer {ctx.metrics_token}"
    ):
        raise HTTPException(401, "metrics token required")
    return PlainTextResponse(
        await ctx.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@pages.get("/wallboard", response_class=HTMLResponse)
async def wallboard() -> str:
    return (STATIC / "wallboard.html").read_text(encoding="utf-8")
