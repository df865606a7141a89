"""The ticket API: create (from a call or another channel), read with history and linked calls,
update, move along the lifecycle, link calls, list and filter, the overdue list.

Rules and roles are the TicketService's (``hotline/tickets/service.py``); its domain errors
become HTTP in ``hotline/web/errors.py``. Here only: the overdue list is for supervisors.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from hotline.tickets import lifecycle
from hotline.tickets.config import TicketSettings
from hotline.tickets.schemas import (
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
from hotline.tickets.service import TicketService
from hotline.tickets.store import Ticket, TicketDetail, TicketQuery
from hotline.web.deps import Caller, Local, LocalTime, Supervisor, provided

router = APIRouter(prefix="/api", tags=["tickets"])
TicketId = Annotated[int, Path(ge=1, lt=2**31)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]
Tickets = Annotated[TicketService, Depends(provided(TicketService))]
Taxonomy = Annotated[TicketSettings, Depends(provided(TicketSettings))]


def _out(local: LocalTime, t: Ticket, now: datetime) -> dict[str, Any]:
    times = ("deadline", "dispatched_at", "resolved_at", "closed_at", "created_at", "updated_at")
    data: dict[str, Any] = {
        f.name: getattr(t, f.name) for f in fields(t) if f.name in TicketOut.model_fields
    }
    data.update({name: local.local(getattr(t, name)) for name in times})
    data["overdue"] = t.overdue(now)
    data["next"] = lifecycle.next_statuses(t.status)
    return data


def _ticket(local: LocalTime, t: Ticket, now: datetime) -> TicketOut:
    return TicketOut(**_out(local, t, now))


def detail_out(local: LocalTime, d: TicketDetail, now: datetime) -> TicketDetailOut:
    """``now``: the ticket service's clock (whether it is overdue)."""
    history = [
        TicketEventOut(
            at=local.local(e.at),
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            changes=e.changes,
            note=e.note,
        )
        for e in d.history
    ]
    calls = [
        LinkedCallOut(
            call_id=c.call_id,
            linked_at=local.local(c.linked_at),
            linked_by=c.linked_by,
            started_at=local.local(c.started_at),
            caller_number=c.caller_number,
            agent=c.agent,
            disposition=c.disposition,
            talk_time=c.talk_time,
            language=c.language,
            request_kind=c.request_kind,
        )
        for c in d.calls
    ]
    base = _out(local, d.ticket, now)
    return TicketDetailOut(**base, transcript=d.ticket.transcript, history=history, calls=calls)


def _page(
    local: LocalTime, now: datetime, found: tuple[list[Ticket], int], limit: int, offset: int
) -> TicketPageOut:
    items, total = found
    return TicketPageOut(
        items=[_ticket(local, t, now) for t in items], total=total, limit=limit, offset=offset
    )


@router.get("/tickets/taxonomy")
async def taxonomy(_: Caller, cfg: Taxonomy) -> TicketTaxonomyOut:
    """What the ticket form offers: kinds, channels, categories, departments, transitions."""
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
async def overdue(
    _: Supervisor, tickets: Tickets, local: Local, limit: Limit = 50, offset: Offset = 0
) -> TicketPageOut:
    """Unfinished tickets past their deadline (supervision)."""
    found = await tickets.overdue(limit=limit, offset=offset)
    return _page(local, tickets.now(), found, limit, offset)


@router.get("/tickets")
async def list_tickets(
    _: Caller,
    tickets: Tickets,
    local: Local,
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
        statuses=tuple(status or ()),
        kind=kind,
        category=category,
        department=department,
        caller_number=caller_number,
        handler=handler,
        created_from=local.aware(created_from),
        created_to=local.aware(created_to),
        overdue=overdue,
    )
    found = await tickets.search(query, limit=limit, offset=offset)
    return _page(local, tickets.now(), found, limit, offset)


@router.post("/tickets", status_code=201)
async def create_ticket(
    body: TicketCreateIn, who: Caller, tickets: Tickets, local: Local
) -> TicketDetailOut:
    values = body.model_dump(exclude_unset=True, exclude={"status", "call_id"})
    detail = await tickets.create(who, values, status=body.status, call_id=body.call_id)
    return detail_out(local, detail, tickets.now())


@router.get("/tickets/{ticket_id}")
async def get_ticket(
    ticket_id: TicketId, _: Caller, tickets: Tickets, local: Local
) -> TicketDetailOut:
    return detail_out(local, await tickets.get(ticket_id), tickets.now())


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: TicketId, body: TicketUpdateIn, who: Caller, tickets: Tickets, local: Local
) -> TicketDetailOut:
    values = body.model_dump(exclude_unset=True)
    return detail_out(local, await tickets.update(who, ticket_id, values), tickets.now())


@router.post("/tickets/{ticket_id}/transition")
async def transition(
    ticket_id: TicketId, body: TicketTransitionIn, who: Caller, tickets: Tickets, local: Local
) -> TicketDetailOut:
    detail = await tickets.transition(
        who,
        ticket_id,
        body.to,
        note=body.note,
        department=body.department,
        resolution=body.resolution,
    )
    return detail_out(local, detail, tickets.now())


@router.post("/tickets/{ticket_id}/calls")
async def link_call(
    ticket_id: TicketId, body: TicketCallIn, who: Caller, tickets: Tickets, local: Local
) -> TicketDetailOut:
    detail = await tickets.link_call(who, ticket_id, body.call_id)
    return detail_out(local, detail, tickets.now())
