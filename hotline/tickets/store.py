"""Tickets in the store: rows, history and linked calls. Synchronous: callers on the event loop
use a thread. The rules (which transitions, who may) live in ``hotline/tickets/``; a change is
decided by a callback that runs inside the store's transaction, on the locked current row, so
the decision, the change and its history entry are one atomic step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Engine, Integer, and_, case, func, literal, not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.db.models import (
    CallRow,
    DraftAcceptanceRow,
    TicketCallRow,
    TicketEventRow,
    TicketRow,
)
from hotline.tickets.acceptance import DRAFT_FIELDS, OUTCOMES, FieldOutcome, rate, weeks
from hotline.tickets.lifecycle import ACTIVE, STATUSES


@dataclass(frozen=True)
class Ticket:
    id: int
    status: str
    kind: str | None
    category: str | None
    channel: str
    caller_number: str
    caller_name: str
    caller_language: str | None
    location: str
    callback_number: str
    description: str
    department: str | None
    resolution: str
    transcript: Any
    handler: str | None
    repeat_of: int | None
    created_by: str | None
    updated_by: str | None
    deadline: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE and self.deadline is not None and self.deadline < now


_FIELDS = tuple(f.name for f in fields(Ticket))
# What a change may set (the rest is the store's bookkeeping).
SETTABLE = frozenset(_FIELDS) - {"id", "created_by", "updated_by", "created_at", "updated_at"}


def _ticket(row: TicketRow) -> Ticket:
    return Ticket(**{name: getattr(row, name) for name in _FIELDS})


@dataclass(frozen=True)
class TicketEvent:
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    changes: dict[str, Any]
    note: str


@dataclass(frozen=True)
class LinkedCall:
    """A call linked to a ticket, with what its record says once the record exists."""

    call_id: str
    linked_at: datetime
    linked_by: str
    started_at: datetime | None = None
    caller_number: str | None = None
    agent: str | None = None
    disposition: str | None = None
    talk_time: float | None = None
    language: str | None = None
    request_kind: str | None = None


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    history: list[TicketEvent]
    calls: list[LinkedCall]


@dataclass(frozen=True)
class Change:
    """What a decision does to a ticket: the fields to set and the history entry's action."""

    action: str  # update, transition, link_call
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    link: str | None = None  # a call's call_id to link


@dataclass(frozen=True)
class TicketQuery:
    statuses: tuple[str, ...] = ()
    kind: str | None = None
    category: str | None = None
    department: str | None = None
    caller_number: str | None = None
    handler: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue: bool | None = None


def _linked(link: TicketCallRow | None, c: CallRow | None) -> LinkedCall:
    assert link is not None or c is not None
    if link is None:
        assert c is not None
        base = LinkedCall(c.call_id, c.started_at, "")
    else:
        base = LinkedCall(link.call_id, link.linked_at, link.linked_by)
    if c is None:
        return base
    return replace(
        base,
        started_at=c.started_at,
        caller_number=c.caller_number,
        agent=c.agent,
        disposition=c.disposition,
        talk_time=c.talk_time,
        language=c.language,
        request_kind=c.request_kind,
    )


class UnknownTicket(KeyError):
    pass


def _jsonable(name: str, value: Any) -> Any:
    if name == "transcript":
        # The transcript can be long: history says that it changed, not what it says.
        return None if value is None else "(transcript)"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _short(value: str | None) -> str | None:
    # Taxonomy ids are short; a longer draft value is cut rather than refused.
    return None if value is None else value[:64]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    return bool(a == b)


class TicketStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- writes ------------------------------------------------------------------------------
    def create(
        self, caller_number: str, status: str = "open", deadline: datetime | None = None
    ) -> int:
        """A bare ticket in any status (seeding, tests): no lifecycle rule is applied."""
        if status not in STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")
        values = {"status": status, "caller_number": caller_number, "deadline": deadline}
        return self.insert(values, actor="system", at=datetime.now(UTC)).id

    def insert(
        self,
        values: dict[str, Any],
        *,
        actor: str,
        at: datetime,
        call_id: str | None = None,
        acceptance: Sequence[FieldOutcome] = (),
    ) -> Ticket:
        """A new ticket with its ``create`` history entry (and the call linked, and what the
        agent did with the call's draft: ``acceptance``), atomically."""
        bad = set(values) - SETTABLE
        if bad:
            raise ValueError(f"not settable: {sorted(bad)}")
        with self._sessions.begin() as s:
            row = TicketRow(created_by=actor, updated_by=actor, created_at=at, updated_at=at)
            row.channel, row.caller_number, row.caller_name = "phone", "", ""
            row.location = row.callback_number = row.description = row.resolution = ""
            for name, value in values.items():
                setattr(row, name, value)
            s.add(row)
            s.flush()  # the id
            initial = {
                k: [None, _jsonable(k, v)]
                for k, v in values.items()
                if k != "status" and v not in (None, "")
            }
            s.add(
                TicketEventRow(
                    ticket_id=row.id,
                    at=at,
                    actor=actor,
                    action="create",
                    from_status=None,
                    to_status=row.status,
                    changes=initial,
                    note="",
                )
            )
            if call_id:
                self._link(s, row.id, call_id, actor, at)
                s.add_all(
                    DraftAcceptanceRow(
                        ticket_id=row.id,
                        call_id=call_id,
                        field=o.field,
                        outcome=o.outcome,
                        draft_value=_short(o.draft_value),
                        saved_value=_short(o.saved_value),
                        at=at,
                    )
                    for o in acceptance
                )
            return _ticket(row)

    def change(
        self, ticket_id: int, *, actor: str, at: datetime, decide: Callable[[Ticket], Change | None]
    ) -> Ticket:
        """Apply what ``decide`` makes of the current ticket, with its history entry, in one
        transaction on the locked row. ``decide`` may raise to refuse: nothing is written."""
        with self._sessions.begin() as s:
            row = s.get(TicketRow, ticket_id, with_for_update=True)
            if row is None:
                raise UnknownTicket(ticket_id)
            current = _ticket(row)
            change = decide(current)
            if change is None:
                return current
            bad = set(change.values) - SETTABLE
            if bad:
                raise ValueError(f"not settable: {sorted(bad)}")
            diff = {
                name: [_jsonable(name, getattr(row, name)), _jsonable(name, value)]
                for name, value in change.values.items()
                if not _same(getattr(row, name), value)
            }
            linked = change.link is not None and self._link(s, row.id, change.link, actor, at)
            if not diff and not linked:
                return current  # nothing changes: no history entry either
            for name, value in change.values.items():
                setattr(row, name, value)
            row.updated_by, row.updated_at = actor, at
            if diff:
                s.add(
                    TicketEventRow(
                        ticket_id=row.id,
                        at=at,
                        actor=actor,
                        action=change.action,
                        from_status=current.status,
                        to_status=row.status,
                        changes=diff,
                        note=change.note,
                    )
                )
            return _ticket(row)

    def _link(self, s: Session, ticket_id: int, call_id: str, actor: str, at: datetime) -> bool:
        """Link a call (idempotent: False when it was linked already)."""
        if s.get(TicketCallRow, (call_id, ticket_id)) is not None:
            return False
        s.add(TicketCallRow(call_id=call_id, ticket_id=ticket_id, linked_at=at, linked_by=actor))
        s.add(
            TicketEventRow(
                ticket_id=ticket_id,
                at=at,
                actor=actor,
                action="link_call",
                from_status=None,
                to_status=None,
                changes={"call_id": [None, call_id]},
                note="",
            )
        )
        return True

    # -- reads -------------------------------------------------------------------------------
    def get(self, ticket_id: int) -> TicketDetail:
        with self._sessions() as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                raise UnknownTicket(ticket_id)
            events = s.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
            history = [
                TicketEvent(
                    e.at, e.actor, e.action, e.from_status, e.to_status, dict(e.changes), e.note
                )
                for e in events
            ]
            linked = s.execute(
                select(TicketCallRow, CallRow)
                .outerjoin(CallRow, CallRow.call_id == TicketCallRow.call_id)
                .where(TicketCallRow.ticket_id == ticket_id)
                .order_by(TicketCallRow.linked_at, TicketCallRow.call_id)
            )
            calls = [_linked(link, c) for link, c in linked]
            return TicketDetail(_ticket(row), history, calls)

    def tickets_of_call(self, call_id: str) -> list[int]:
        """The tickets a call is linked to."""
        with self._sessions() as s:
            q = select(TicketCallRow.ticket_id).where(TicketCallRow.call_id == call_id)
            return sorted(s.scalars(q))

    def call(self, call_id: str) -> LinkedCall | None:
        """What the call record says of a call (None while it has no record yet)."""
        with self._sessions() as s:
            c = s.scalar(select(CallRow).where(CallRow.call_id == call_id))
            return None if c is None else _linked(None, c)

    def search(
        self, q: TicketQuery, *, now: datetime, limit: int, offset: int
    ) -> tuple[list[Ticket], int]:
        """The tickets matching ``q``, newest first, one page; and how many match in all."""
        stmt = select(TicketRow)
        for cond in self._conditions(q, now):
            stmt = stmt.where(cond)
        with self._sessions() as s:
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = s.scalars(stmt.order_by(TicketRow.id.desc()).limit(limit).offset(offset))
            return [_ticket(r) for r in rows], total

    @staticmethod
    def _conditions(q: TicketQuery, now: datetime) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if q.statuses:
            conds.append(TicketRow.status.in_(q.statuses))
        for column, value in (
            (TicketRow.kind, q.kind),
            (TicketRow.category, q.category),
            (TicketRow.department, q.department),
            (TicketRow.caller_number, q.caller_number),
            (TicketRow.handler, q.handler),
        ):
            if value is not None:
                conds.append(column == value)
        if q.created_from is not None:
            conds.append(TicketRow.created_at >= q.created_from)
        if q.created_to is not None:
            conds.append(TicketRow.created_at < q.created_to)
        if q.overdue is not None:
            late = and_(TicketRow.status.in_(ACTIVE), TicketRow.deadline < now)
            conds.append(late if q.overdue else or_(not_(late), TicketRow.deadline.is_(None)))
        return conds

    # -- reports ---------------------------------------------------------------------------
    def tops(self, since: datetime, until: datetime, limit: int = 10) -> dict[str, Any]:
        """Tickets created in [since, until): the most frequent categories, and the callers
        with repeats (a ticket repeating an earlier one) or several tickets, most first."""
        t = TicketRow
        period = and_(t.created_at >= since, t.created_at < until)
        n = func.count().label("n")
        repeats = func.count(t.repeat_of).label("repeats")
        with self._sessions() as s:
            categories = s.execute(
                select(t.category, n)
                .where(period)
                .group_by(t.category)
                .order_by(n.desc(), t.category)
                .limit(limit)
            ).all()
            callers = s.execute(
                select(t.caller_number, n, repeats)
                .where(period, t.caller_number != "")
                .group_by(t.caller_number)
                .having(or_(func.count() >= 2, func.count(t.repeat_of) >= 1))
                .order_by(repeats.desc(), n.desc(), t.caller_number)
                .limit(limit)
            ).all()
        return {
            "top_categories": [{"category": c or "-", "tickets": k} for c, k in categories],
            "repeat_callers": [
                {"caller_number": num, "tickets": k, "repeats": r} for num, k, r in callers
            ],
        }

    def acceptance_of(self, ticket_id: int) -> dict[str, str]:
        """What the agent did with each drafted field of this ticket: field → outcome."""
        a = DraftAcceptanceRow
        with self._sessions() as s:
            rows = s.execute(select(a.field, a.outcome).where(a.ticket_id == ticket_id)).all()
        return {name: outcome for name, outcome in rows}

    def acceptance(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per drafted field, how the tickets first saved in [since, until) took the draft:
        counts of each outcome and the acceptance rate (``acceptance.rate``). Every field,
        zeros included; empty when no ticket of the period came with a draft."""
        a = DraftAcceptanceRow
        with self._sessions() as s:
            found = s.execute(
                select(a.field, a.outcome, func.count())
                .where(a.at >= since, a.at < until)
                .group_by(a.field, a.outcome)
            ).all()
        if not found:
            return []
        counts = {name: dict.fromkeys(OUTCOMES, 0) for name in DRAFT_FIELDS}
        for name, outcome, n in found:
            counts.setdefault(name, dict.fromkeys(OUTCOMES, 0))[outcome] = n
        return [{"field": name, **c, "rate": rate(c)} for name, c in counts.items()]

    def acceptance_by_week(
        self, since: datetime, until: datetime, tz: tzinfo
    ) -> list[dict[str, Any]]:
        """``acceptance`` per ISO week of [since, until) (``acceptance.weeks``: from Monday
        00:00 local time in ``tz``; a week cut by the period's edges counts only the period's
        days): rows of week (its Monday, ISO date), field, the counts and the rate, by week
        then field. Every week and field, zeros included (a week without a drafted ticket:
        zeros, rate None); empty when no ticket of the period came with a draft.

        One grouped query on SQLite and PostgreSQL alike: each row's week is a CASE over the
        weeks' edges, instants computed here, so neither the database's date functions nor its
        session time zone matter. Grouped in an outer query: PostgreSQL would not match a
        GROUP BY repeating the CASE with its own bound parameters."""
        parts = weeks(since, until, tz)
        edges = [w.until for w in parts[:-1]]
        a = DraftAcceptanceRow
        week: ColumnElement[int] = (
            case(*((a.at < edge, i) for i, edge in enumerate(edges)), else_=len(edges))
            if edges
            else literal(0, Integer)
        )
        rows = (
            select(week.label("week"), a.field, a.outcome)
            .where(a.at >= since, a.at < until)
            .subquery()
        )
        with self._sessions() as s:
            found = s.execute(
                select(rows.c.week, rows.c.field, rows.c.outcome, func.count()).group_by(
                    rows.c.week, rows.c.field, rows.c.outcome
                )
            ).all()
        if not found:
            return []
        counts = [{name: dict.fromkeys(OUTCOMES, 0) for name in DRAFT_FIELDS} for _ in parts]
        for i, name, outcome, n in found:
            counts[i].setdefault(name, dict.fromkeys(OUTCOMES, 0))[outcome] = n
        return [
            {"week": w.monday.isoformat(), "field": name, **c, "rate": rate(c)}
            for w, per_field in zip(parts, counts, strict=True)
            for name, c in per_field.items()
        ]

    # -- the IVR's look-ups ------------------------------------------------------------------
    def status(self, number: str) -> str | None:
        """The status of ticket ``number`` as keyed by a caller, or None if there is none."""
        # Ids are 32-bit integers (PostgreSQL refuses a larger key outright).
        if not number.isdigit() or len(number) > 10 or int(number) >= 2**31:
            return None
        with self._sessions() as s:
            row = s.get(TicketRow, int(number))
            return row.status if row is not None else None

    def has_overdue(self, caller_number: str, now: datetime | None = None) -> bool:
        """Whether the caller has an unfinished ticket past its deadline (they get priority)."""
        if not caller_number:
            return False
        with self._sessions() as s:
            found = s.scalar(
                select(TicketRow.id)
                .where(
                    TicketRow.caller_number == caller_number,
                    TicketRow.status.in_(ACTIVE),
                    TicketRow.deadline < (now or datetime.now(UTC)),
                )
                .limit(1)
            )
            return found is not None
