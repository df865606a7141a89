"""The ticket API: create (from a call or another channel), read with history and linked calls,
update, move along the lifecycle, link calls, list and filter, the overdue list.

Rules and roles are the TicketService's (``hotline/tickets/service.py``); its domain errors
become HTTP in ``hotline/web/errors.py``. Here only: the overdue list is for supervisors.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from hotline.tickets import lifecycle
from hotline.tickets.store import Ticket, TicketDetail, TicketQuery
from hotline.web.deps import Caller, Ctx, Supervisor, WebContext
from hotline.web.schemas import (
    LinkedCallOut,
    TicketCallIn,
    TicketCreateIn,
    TicketDetailOut,
    TicketEventOut,
    TicketOut,
    TicketPageOut,
    TicketTaxonomyOut,
    TicketTransitionIn,
    TicketTransitionOut,
    TicketUpdateIn,
)

router = APIRouter(prefix="/api", tags=["tickets"])
TicketId = Annotated[int, Path(ge=1, lt=2**31)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


def _local(ctx: WebContext, t: datetime | None) -> datetime | None:
    return t.astimezone(ctx.settings.tz) if t is not None else None


def _out(ctx: WebContext, t: Ticket, now: datetime) -> dict[str, Any]:
    times = ("deadline", "dispatched_at", "resolved_at", "closed_at", "created_at", "updated_at")
    data: dict[str, Any] = {
        f.name: getattr(t, f.name) for f in fields(t) if f.name in TicketOut.model_fields
    }
    data.update({name: _local(ctx, getattr(t, name)) for name in times})
    data["overdue"] = t.overdue(now)
    data["next"] = lifecycle.next_statuses(t.status)
    return data


def _ticket(ctx: WebContext, t: Ticket) -> TicketOut:
    return TicketOut(**_out(ctx, t, ctx.tickets.now()))


def detail_out(ctx: WebContext, d: TicketDetail) -> TicketDetailOut:
    history = [
        TicketEventOut(at=_local(ctx, e.at), actor=e.actor, action=e.action,
                       from_status=e.from_status, to_status=e.to_status, changes=e.changes,
                       note=e.note)
        for e in d.history
    ]  # fmt: skip
    calls = [
        LinkedCallOut(linkedid=c.linkedid, linked_at=_local(ctx, c.linked_at),
                      linked_by=c.linked_by, started_at=_local(ctx, c.started_at),
                      caller_number=c.caller_number, agent=c.agent, disposition=c.disposition,
                      talk_time=c.talk_time, language=c.language, request_kind=c.request_kind)
        for c in d.calls
    ]  # fmt: skip
    base = _out(ctx, d.ticket, ctx.tickets.now())
    return TicketDetailOut(**base, transcript=d.ticket.transcript, history=history, calls=calls)


def _aware(ctx: WebContext, t: datetime | None) -> datetime | None:
    # A time without a zone is the hotline's local time.
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=ctx.settings.tz)


def _page(
    ctx: WebContext, found: tuple[list[Ticket], int], limit: int, offset: int
) -> TicketPageOut:
    items, total = found
    return TicketPageOut(
        items=[_ticket(ctx, t) for t in items], total=total, limit=limit, offset=offset
    )


@router.get("/tickets/taxonomy")
async def taxonomy(_: Caller, ctx: Ctx) -> TicketTaxonomyOut:
    """What the ticket form offers: kinds, channels, categories, departments, transitions."""
    cfg = ctx.tickets.config
    return TicketTaxonomyOut(
        kinds=list(lifecycle.KINDS),
        channels=list(lifecycle.CHANNELS),
        statuses=list(lifecycle.STATUSES),
        transitions=[
            TicketTransitionOut(
                source=t.source,
                target=t.target,
                name=t.name,
                requires=list(t.requires),
                supervisor_only=t.supervisor_only,
            )
            for t in lifecycle.TRANSITIONS
        ],
        categories=[c.model_dump() for c in cfg.categories],
        departments=[d.model_dump() for d in cfg.departments],
    )


@router.get("/tickets/overdue")
async def overdue(_: Supervisor, ctx: Ctx, limit: Limit = 50, offset: Offset = 0) -> TicketPageOut:
    """Unfinished tickets past their deadline (supervision)."""
    return _page(ctx, await ctx.tickets.overdue(limit=limit, offset=offset), limit, offset)


@router.get("/tickets")
async def list_tickets(
    _: Caller,
    ctx: Ctx,
    status: Annotated[list[str] | None, Query()] = None,
    kind: str | None = None,
    category: str | None = None,
    department: str | None = None,
    caller_number: str | None = None,
    handler: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    overdue: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> TicketPageOut:
    """Tickets matching every filter given, newest first (``status`` may repeat)."""
    query = TicketQuery(
        statuses=tuple(status or ()), kind=kind, category=category, department=department,
        caller_number=caller_number, handler=handler,
        created_from=_aware(ctx, created_from), created_to=_aware(ctx, created_to),
        overdue=overdue,
    )  # fmt: skip
    return _page(ctx, await ctx.tickets.search(query, limit=limit, offset=offset), limit, offset)


@router.post("/tickets", status_code=201)
async def create_ticket(body: TicketCreateIn, who: Caller, ctx: Ctx) -> TicketDetailOut:
    values = body.model_dump(exclude_unset=True, exclude={"status", "linkedid"})
    detail = await ctx.tickets.create(who, values, status=body.status, linkedid=body.linkedid)
    return detail_out(ctx, detail)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: TicketId, _: Caller, ctx: Ctx) -> TicketDetailOut:
    return detail_out(ctx, await ctx.tickets.get(ticket_id))


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: TicketId, body: TicketUpdateIn, who: Caller, ctx: Ctx
) -> TicketDetailOut:
    values = body.model_dump(exclude_unset=True)
    return detail_out(ctx, await ctx.tickets.update(who, ticket_id, values))


@router.post("/tickets/{ticket_id}/transition")
async def transition(
    ticket_id: TicketId, body: TicketTransitionIn, who: Caller, ctx: Ctx
) -> TicketDetailOut:
    detail = await ctx.tickets.transition(
        who, ticket_id, body.to, note=body.note, department=body.department,
        resolution=body.resolution,
    )  # fmt: skip
    return detail_out(ctx, detail)


@router.post("/tickets/{ticket_id}/calls")
async def link_call(
    ticket_id: TicketId, body: TicketCallIn, who: Caller, ctx: Ctx
) -> TicketDetailOut:
    return detail_out(ctx, await ctx.tickets.link_call(who, ticket_id, body.linkedid))
