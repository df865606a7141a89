"""The agent's page: its WebSocket (screen-pops for this agent only), the draft it files, the
caller look-ups it makes, and the page itself."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from hotline.agents.desk import WRAP_UP
from hotline.core.errors import Conflict
from hotline.tickets.lifecycle import KINDS
from hotline.tickets.routes import detail_out
from hotline.web.deps import Caller, Ctx, WebContext, ws_principal
from hotline.web.schemas import AgentConfigOut, CallTicketIn, RepeatOut, TicketDetailOut

api = APIRouter(prefix="/api")
pages = APIRouter()
STATIC = Path(__file__).parent / "static"
PAUSE_REASONS = ["break", "meal", "training", "meeting", "toilet", "other"]


@api.websocket("/agent/ws")
async def agent_ws(ws: WebSocket) -> None:
    """One agent's pops. The token comes as the first message ({"token": ...}), never in the
    URL; the pops sent are those of the token's agent, whoever asks."""
    ctx: WebContext = ws.app.state.ctx
    who = await ws_principal(ws, ctx)
    if who is None:
        return
    queue = ctx.screenpop.subscribe(who.agent_id)

    async def send_pops() -> None:
        while True:
            await ws.send_json(await queue.get())

    async def until_closed() -> None:
        # The page sends nothing more, but reading is how its going away is noticed: sending
        # alone would notice only at the next pop, leaving a closed page subscribed till then.
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.create_task(send_pops()), asyncio.create_task(until_closed())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # Either ending is normal: the page closed, or a send found the socket gone.
        await asyncio.gather(*tasks, return_exceptions=True)
        ctx.screenpop.unsubscribe(who.agent_id, queue)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close()


@api.get("/agent/config")
async def agent_config(_: Caller, ctx: Ctx) -> AgentConfigOut:
    """What the page's selects offer: request kinds, categories, pause reasons."""
    t = ctx.settings.tickets
    return AgentConfigOut(
        kinds=[{"id": k, "name": k.replace("_", " ")} for k in KINDS],
        categories=[{"id": c.id, "name": f"{c.zh} / {c.en}"} for c in t.categories],
        pause_reasons=PAUSE_REASONS,
    )


@api.post("/agent/calls/{linkedid}/ticket", status_code=201)
async def file_ticket(linkedid: str, body: CallTicketIn, who: Caller, ctx: Ctx) -> TicketDetailOut:
    """Save the draft of the call on the agent's screen as a ticket linked to the call, and
    end the agent's wrap-up: the next call can come."""
    pop = ctx.screenpop.current(who.agent_id)
    if pop is None or pop["linkedid"] != linkedid:
        raise Conflict("pop.not_current", f"call {linkedid} is not the call on your screen")
    draft = pop["draft"]
    number = draft["caller_number"]
    # Repeat or not is decided again with the category the agent chose.
    view = await asyncio.to_thread(
        ctx.callers.look_up, number, kind=body.kind, category=body.category, exclude_call=linkedid
    )
    values: dict[str, Any] = {
        "kind": body.kind,
        "category": body.category,
        "location": body.location,
        "description": body.description,
        "caller_number": number,
        "repeat_of": view.repeat.of,
    }
    if draft.get("transcript_json"):  # transcribed before the agent filed: keep it
        values["transcript"] = draft["transcript_json"]
    if draft.get("caller_language") in ctx.settings.ivr.languages:
        values["caller_language"] = draft["caller_language"]
    detail = await ctx.tickets.create(who, values, status=body.status, linkedid=linkedid)
    ctx.screenpop.done(who.agent_id, linkedid)
    agent = await ctx.desk.get(who.agent_id)
    if agent.paused and agent.pause_reason == WRAP_UP:
        await ctx.desk.unpause(who.agent_id)
    return detail_out(ctx, detail)


@api.get("/callers/{number}/repeat")
async def repeat(
    number: str, _: Caller, ctx: Ctx, kind: str | None = None, category: str | None = None
) -> RepeatOut:
    """Whether a call from ``number`` about ``category`` (or ``kind``) repeats an earlier one."""
    view = await asyncio.to_thread(
        ctx.callers.look_up, number, kind=kind or None, category=category or None
    )
    return RepeatOut(flag=view.repeat.flag, of=view.repeat.of, reasons=list(view.repeat.reasons))


@api.get("/callers/{number}")
async def caller(number: str, _: Caller, ctx: Ctx) -> dict[str, object]:
    view = await asyncio.to_thread(ctx.callers.look_up, number, kind=None)
    return view.as_dict()


@pages.get("/agent", response_class=HTMLResponse)
async def agent_page() -> str:
    return (STATIC / "agent.html").read_text(encoding="utf-8")
