"""The agent's page: its WebSocket (this agent's pops, draft updates and state, nobody else's),
what its selects offer, the draft it files, and the page itself."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from hotline.agents.desk import WRAP_UP, AgentDesk
from hotline.callers.history import CallerHistory
from hotline.core.errors import Conflict
from hotline.core.logs import bind, log_context
from hotline.screenpop.schemas import (
    AGENT_MESSAGE,
    AgentConfigOut,
    AgentMessage,
    CallTicketIn,
    StateMessage,
)
from hotline.screenpop.service import ScreenPop
from hotline.supervision.live import LiveView
from hotline.tickets.acceptance import ShownDraft
from hotline.tickets.config import TicketSettings
from hotline.tickets.lifecycle import KIND_NAMES, KINDS
from hotline.tickets.routes import Tickets, detail_out
from hotline.tickets.schemas import TicketDetailOut
from hotline.web.deps import Caller, Local, Signer, provided, ws_principal

router = APIRouter(prefix="/api")
pages = APIRouter()
STATIC = Path(__file__).parent / "static"
PAUSE_REASONS = ["break", "meal", "training", "meeting", "toilet", "other"]


@dataclass(frozen=True)
class CallerLanguages:
    """The languages callers may choose in the IVR (a ticket keeps the caller's if one)."""

    codes: frozenset[str]


Pops = Annotated[ScreenPop, Depends(provided(ScreenPop))]
Live = Annotated[LiveView, Depends(provided(LiveView))]
Desk = Annotated[AgentDesk, Depends(provided(AgentDesk))]
History = Annotated[CallerHistory, Depends(provided(CallerHistory))]
Taxonomy = Annotated[TicketSettings, Depends(provided(TicketSettings))]
Languages = Annotated[CallerLanguages, Depends(provided(CallerLanguages))]


@router.websocket("/agent/ws")
async def agent_ws(ws: WebSocket, pops: Pops, live: Live, signer: Signer) -> None:
    """One agent's messages (``AgentMessage``, docs/websocket.md). The token comes as the
    first message ({"token": ...}), never in the URL; what is sent is the token's agent's,
    whoever asks."""
    who = await ws_principal(ws, signer)
    if who is None:
        return
    bind(agent_id=who.agent_id)  # this socket's own task: its lines name the agent
    # One sender; the sources wait for it, so a stalled page backs up into their own bounded
    # queues (which drop the oldest), never into this one.
    out: asyncio.Queue[AgentMessage] = asyncio.Queue(maxsize=1)
    page = pops.subscribe(who.agent_id)
    states = live.watch_agent(who.agent_id)

    async def from_pops() -> None:
        while True:
            await out.put(await page.get())

    async def from_states() -> None:
        while True:
            await out.put(StateMessage.of(await states.get()))

    async def send() -> None:
        while True:
            await ws.send_text(AGENT_MESSAGE.dump_json(await out.get()).decode())

    async def until_closed() -> None:
        # The page sends nothing more, but reading is how its going away is noticed: sending
        # alone would notice only at the next message, leaving a closed page subscribed.
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.create_task(f()) for f in (from_pops, from_states, send, until_closed)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # Either ending is normal: the page closed, or a send found the socket gone.
        await asyncio.gather(*tasks, return_exceptions=True)
        pops.unsubscribe(who.agent_id, page)
        live.unwatch_agent(states)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close()


@router.get("/agent/config")
async def agent_config(_: Caller, taxonomy: Taxonomy) -> AgentConfigOut:
    """What the page's selects offer: request kinds, categories, pause reasons."""
    return AgentConfigOut(
        kinds=[{"id": k, "name": " / ".join(KIND_NAMES[k])} for k in KINDS],
        categories=[{"id": c.id, "name": f"{c.zh} / {c.en}"} for c in taxonomy.categories],
        pause_reasons=PAUSE_REASONS,
    )


@router.post("/agent/calls/{call_id}/ticket", status_code=201)
async def file_ticket(
    call_id: str,
    body: CallTicketIn,
    who: Caller,
    pops: Pops,
    history: History,
    tickets: Tickets,
    desk: Desk,
    live: Live,
    languages: Languages,
    local: Local,
) -> TicketDetailOut:
    """Save the draft of the call on the agent's screen as a ticket linked to the call, and
    end the agent's wrap-up: the next call can come."""
    with log_context(call_id=call_id, agent_id=who.agent_id):
        pop = pops.current(who.agent_id)
        if pop is None or pop.call_id != call_id:
            raise Conflict("pop.not_current", f"call {call_id} is not the call on your screen")
        draft = pop.draft
        number = draft.caller_number
        # Repeat or not is decided again with the category the agent chose.
        view = await asyncio.to_thread(
            history.look_up, number, kind=body.kind, category=body.category, exclude_call=call_id
        )
        values: dict[str, Any] = {
            "kind": body.kind,
            "category": body.category,
            "location": body.location,
            "callback_number": body.callback_number,
            "description": body.description,
            "caller_number": number,
            "repeat_of": view.repeat.of,
        }
        if draft.transcript_json:  # transcribed before the agent filed: keep it
            values["transcript"] = draft.transcript_json
        if draft.caller_language in languages.codes:
            values["caller_language"] = draft.caller_language
        shown = None
        if draft.suggested is not None:  # the system drafted: the service records the outcome
            shown = ShownDraft(
                suggested=draft.suggested.model_dump(),
                prefilled={
                    "kind": draft.kind,
                    "category": draft.category,
                    "location": draft.location,
                    "callback_number": draft.callback_number,
                    "description": draft.description,
                },
            )
        detail = await tickets.create(who, values, status=body.status, call_id=call_id, draft=shown)
        pops.done(who.agent_id, call_id)
        agent = await desk.get(who.agent_id)
        if agent.paused and agent.pause_reason == WRAP_UP:
            await desk.unpause(who.agent_id)
            live.changed()
        return detail_out(local, detail, tickets.now())


@pages.get("/agent", response_class=HTMLResponse)
async def agent_page() -> str:
    return (STATIC / "agent.html").read_text(encoding="utf-8")
