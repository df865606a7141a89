"""TicketService: the 12345 ticket lifecycle over the store.

Async API for the web layer (and the screen-pop, the transcription); the store underneath is
synchronous and runs in a thread. Every rule is checked inside the store's transaction on the
locked current row (see ``TicketStore.change``), so a refused change writes nothing and an
accepted one writes its history entry with it.

Who may do what: any member of staff creates tickets, reads and lists them and links calls to
them (the agent who answers a repeat call links it to the existing ticket). Changing a ticket
(fields or status) is for its handler (the agent who created it, or the first to act on an
unassigned ticket, who then becomes its handler) and for supervisors. Only supervisors
reassign a ticket, set a deadline by hand or reopen a closed ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hotline.core.auth import Principal
from hotline.core.calendar import WorkCalendar
from hotline.core.errors import Conflict, Forbidden, Invalid, NotFound
from hotline.tickets import acceptance, lifecycle
from hotline.tickets.config import Category, TicketSettings
from hotline.tickets.store import (
    Change,
    Ticket,
    TicketDetail,
    TicketQuery,
    TicketStore,
    UnknownTicket,
)

# The service itself (IVR, screen-pop drafts, transcription) when it changes a ticket.
SYSTEM = Principal("system", ("supervisor",))

# Fields staff may set on create and update (status only through transitions).
EDITABLE = frozenset(
    {
        "kind",
        "category",
        "channel",
        "caller_number",
        "caller_name",
        "caller_language",
        "location",
        "callback_number",
        "description",
        "department",
        "transcript",
        "handler",
        "deadline",
        "repeat_of",
    }
)
# Departments change by return and redispatch once a ticket is in a department's hands.
_DEPARTMENT_FREE = ("draft", "open", "reopened")


class TicketService:
    def __init__(
        self,
        config: TicketSettings,
        store: TicketStore,
        clock: Callable[[], datetime] | None = None,
        *,
        tz: ZoneInfo,
        languages: Collection[str],
    ) -> None:
        """``config``: the taxonomy and calendar (``tickets:``); ``tz``: the hotline's local
        time (working days, deadlines); ``languages``: the IVR's (a caller's language must be
        one of them)."""
        self.config: TicketSettings = config
        self.calendar = WorkCalendar.from_settings(config.calendar, tz)
        self._languages = frozenset(languages)
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    # -- commands ----------------------------------------------------------------------------
    async def create(
        self,
        who: Principal,
        values: dict[str, Any],
        *,
        status: str = "open",
        call_id: str | None = None,
        draft: acceptance.ShownDraft | None = None,
    ) -> TicketDetail:
        """A new ticket, as a draft or accepted (``open``) at once; from a call (``call_id``:
        caller number, language and request kind default to the call record's) or from
        another channel. ``draft``: the call's draft as the agent's form showed it; what the
        agent did with each of its fields is recorded with the ticket (this first save only:
        later edits do not count)."""
        if status not in ("draft", "open"):
            raise Invalid("ticket.bad_initial_status", "a new ticket is a draft or open")
        values = dict(values)
        self._check_fields(who, values)
        if not who.supervises or "handler" not in values:
            values["handler"] = None if who == SYSTEM else who.agent_id
        now = self.now()

        def insert() -> TicketDetail:
            if call_id:
                call = self._store.call(call_id)
                if call is not None:
                    kind = call.request_kind if call.request_kind in lifecycle.KINDS else None
                    known = {
                        "caller_number": call.caller_number,
                        "caller_language": call.language,
                        "kind": kind,
                    }
                    for name, value in known.items():
                        if value and values.get(name) in (None, ""):
                            values[name] = value
                values.setdefault("channel", "phone")
            if values.get("category") and not values.get("department"):
                values["department"] = self._category(values["category"]).department
            if status == "open":
                accept = lifecycle.find("draft", "open")
                assert accept is not None
                self._require(accept, values, {})
            outcomes = (
                acceptance.compare(self._shown(draft.suggested), values, draft.prefilled)
                if call_id and draft is not None
                else []
            )
            ticket = self._store.insert(
                {**values, "status": status},
                actor=who.agent_id,
                at=now,
                call_id=call_id,
                acceptance=outcomes,
            )
            return self._store.get(ticket.id)

        return await asyncio.to_thread(insert)

    async def update(self, who: Principal, ticket_id: int, values: dict[str, Any]) -> TicketDetail:
        """Change fields (not the status: that is ``transition``)."""
        values = dict(values)
        self._check_fields(who, values)

        def decide(t: Ticket) -> Change:
            self._may_act(who, t)
            if t.status == "closed":
                raise Conflict("ticket.closed", f"ticket {t.id} is closed; reopen it first")
            new = dict(values)
            if t.status != "draft":
                # What accepting a ticket required stays filled in.
                cleared = [
                    n
                    for n in ("kind", "category", "description")
                    if n in new and not str(new[n] or "").strip()
                ]
                if cleared:
                    raise Invalid(
                        "ticket.missing_field",
                        f"ticket {t.id} is {t.status}: {', '.join(cleared)} cannot be emptied",
                    )
            if "department" in new and new["department"] != t.department:
                if t.status not in _DEPARTMENT_FREE:
                    raise Conflict(
                        "ticket.department_locked",
                        f"ticket {t.id} is {t.status}: change its department by returning "
                        "and dispatching it again",
                    )
            elif "category" in new and new["category"] and t.status in _DEPARTMENT_FREE:
                # The department follows the category until someone chooses one.
                new["department"] = self._category(new["category"]).department
            self._claim(who, t, new)
            return Change("update", new)

        return await self._change(who, ticket_id, decide)

    async def transition(
        self,
        who: Principal,
        ticket_id: int,
        to: str,
        *,
        note: str = "",
        department: str | None = None,
        resolution: str | None = None,
    ) -> TicketDetail:
        """Move a ticket along its lifecycle (``lifecycle.TRANSITIONS``)."""
        if to not in lifecycle.STATUSES:
            raise Invalid("ticket.unknown_status", f"unknown status {to!r}")
        if department is not None and to != "dispatched":
            raise Invalid("ticket.unexpected_field", "department is given only when dispatching")
        if resolution is not None and to != "resolved":
            raise Invalid("ticket.unexpected_field", "resolution is given only when resolving")
        if department is not None:
            self._department(department)
        now = self.now()

        def decide(t: Ticket) -> Change:
            step = lifecycle.find(t.status, to)
            if step is None:
                allowed = ", ".join(lifecycle.next_statuses(t.status)) or "none"
                raise Conflict(
                    "ticket.illegal_transition",
                    f"ticket {t.id} cannot go from {t.status} to {to} (from {t.status}: {allowed})",
                )
            self._may_act(who, t)
            if step.supervisor_only and not who.supervises:
                raise Forbidden(
                    "ticket.supervisor_only", f"{step.name} ({t.status} → {to}) is for supervisors"
                )
            new: dict[str, Any] = {"status": to}
            if department is not None:
                new["department"] = department
            if resolution is not None:
                new["resolution"] = resolution.strip()
            self._require(step, {**_fields(t), **new}, {"note": note})
            if to == "dispatched":
                category = self._category(str(t.category))
                new["dispatched_at"] = now
                new["deadline"] = self.calendar.deadline(now, category.deadline_days)
            elif to == "resolved":
                new["resolved_at"] = now
            elif to == "closed":
                new["closed_at"] = now
            elif to in ("open", "reopened"):
                # Back in the centre's hands: the department's deadline no longer runs; the
                # next dispatch sets a new one.
                new.update(deadline=None, dispatched_at=None, resolved_at=None, closed_at=None)
            self._claim(who, t, new)
            return Change("transition", new, note=note.strip())

        return await self._change(who, ticket_id, decide, at=now)

    async def link_call(self, who: Principal, ticket_id: int, call_id: str) -> TicketDetail:
        """Link a call to the ticket (idempotent)."""
        if not call_id:
            raise Invalid("ticket.missing_field", "call_id is required")
        return await self._change(who, ticket_id, lambda t: Change("link_call", link=call_id))

    # -- queries -----------------------------------------------------------------------------
    async def get(self, ticket_id: int) -> TicketDetail:
        try:
            return await asyncio.to_thread(self._store.get, ticket_id)
        except UnknownTicket:
            raise _not_found(ticket_id) from None

    async def search(
        self, query: TicketQuery, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Ticket], int]:
        bad = [s for s in query.statuses if s not in lifecycle.STATUSES]
        if bad:
            raise Invalid("ticket.unknown_status", f"unknown status(es) {bad}")
        if query.kind is not None and query.kind not in lifecycle.KINDS:
            raise Invalid("ticket.unknown_kind", f"unknown kind {query.kind!r}")
        now = self.now()
        return await asyncio.to_thread(
            lambda: self._store.search(query, now=now, limit=limit, offset=offset)
        )

    async def overdue(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Ticket], int]:
        """Unfinished tickets past their deadline (for supervision), newest first."""
        return await self.search(TicketQuery(overdue=True), limit=limit, offset=offset)

    # -- rules -------------------------------------------------------------------------------
    async def _change(
        self,
        who: Principal,
        ticket_id: int,
        decide: Callable[[Ticket], Change],
        at: datetime | None = None,
    ) -> TicketDetail:
        when = at or self.now()

        def run() -> TicketDetail:
            self._store.change(ticket_id, actor=who.agent_id, at=when, decide=decide)
            return self._store.get(ticket_id)

        try:
            return await asyncio.to_thread(run)
        except UnknownTicket:
            raise _not_found(ticket_id) from None

    def _check_fields(self, who: Principal, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - EDITABLE)
        if unknown:
            raise Invalid("ticket.unknown_field", f"not a ticket field one can set: {unknown}")
        for name in ("caller_number", "caller_name", "location", "callback_number", "description"):
            if name in values and values[name] is None:
                values[name] = ""  # text fields are empty, never null
        if not who.supervises:
            if values.get("handler", who.agent_id) != who.agent_id:
                raise Forbidden("ticket.forbidden_field", "only supervisors reassign tickets")
            if "deadline" in values:
                raise Forbidden("ticket.forbidden_field", "only supervisors set deadlines by hand")
        checks: list[tuple[str, tuple[str, ...] | frozenset[str], str]] = [
            ("kind", lifecycle.KINDS, "ticket.unknown_kind"),
            ("channel", lifecycle.CHANNELS, "ticket.unknown_channel"),
            ("caller_language", self._languages, "ticket.unknown_language"),
        ]
        for name, allowed, code in checks:
            value = values.get(name)
            if value is not None and value not in allowed:
                raise Invalid(code, f"{name}: unknown {name.replace('_', ' ')} {value!r}")
        if values.get("category") is not None:
            self._category(values["category"])
        if values.get("department") is not None:
            self._department(values["department"])
        deadline = values.get("deadline")
        if isinstance(deadline, datetime) and deadline.tzinfo is None:
            values["deadline"] = deadline.replace(tzinfo=self.calendar.tz)
        if "channel" in values and values["channel"] is None:
            raise Invalid("ticket.missing_field", "channel cannot be empty")

    def _shown(self, suggested: Mapping[str, str | None]) -> dict[str, str | None]:
        """The suggestions the form could show: its selects offer only known kinds and
        categories, and the page skips a suggested value that is not among them."""
        shown = dict(suggested)
        if shown.get("kind") not in lifecycle.KINDS:
            shown["kind"] = None
        category = shown.get("category")
        if category is not None and self.config.category(category) is None:
            shown["category"] = None
        return shown

    def _category(self, category_id: str) -> Category:
        category = self.config.category(category_id)
        if category is None:
            raise Invalid("ticket.unknown_category", f"unknown category {category_id!r}")
        return category

    def _department(self, department_id: str) -> None:
        if self.config.department(department_id) is None:
            raise Invalid("ticket.unknown_department", f"unknown department {department_id!r}")

    @staticmethod
    def _may_act(who: Principal, t: Ticket) -> None:
        if who.supervises or t.handler in (None, who.agent_id):
            return
        raise Forbidden(
            "ticket.not_handler", f"ticket {t.id} is handled by {t.handler}; ask a supervisor"
        )

    @staticmethod
    def _claim(who: Principal, t: Ticket, new: dict[str, Any]) -> None:
        # An unassigned ticket (from the system, another channel) belongs to whoever acts on it.
        if t.handler is None and who != SYSTEM and "handler" not in new:
            new["handler"] = who.agent_id

    @staticmethod
    def _require(step: lifecycle.Transition, values: dict[str, Any], extra: dict[str, str]) -> None:
        missing = [
            name
            for name in step.requires
            if not str(extra.get(name, values.get(name)) or "").strip()
        ]
        if missing:
            raise Invalid(
                "ticket.missing_field",
                f"{step.name} ({step.source} → {step.target}) needs {', '.join(missing)}",
            )


def _fields(t: Ticket) -> dict[str, Any]:
    return {name: getattr(t, name) for name in ("kind", "category", "description", "department")}


def _not_found(ticket_id: int) -> NotFound:
    return NotFound("ticket.not_found", f"no ticket {ticket_id}")
