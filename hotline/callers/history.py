"""Who is calling: the caller's region (out-of-town callers by number prefix), previous calls
and tickets, and whether this is a repeat about the same thing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hotline.callers.config import CallerSettings
from hotline.calls.store import CallStore
from hotline.tickets.store import TicketQuery, TicketStore


@dataclass(frozen=True)
class Region:
    name: str  # "unknown" when no rule matched
    out_of_town: bool


UNKNOWN = "unknown"


class RegionRules:
    def __init__(self, settings: CallerSettings) -> None:
        self._home = settings.home_region
        # Longest prefix first, so "0531" beats "05".
        self._rules = sorted(
            ((r.prefix, r.region) for r in settings.regions), key=lambda r: -len(r[0])
        )

    def classify(self, number: str) -> Region:
        digits = number.strip()
        for prefix, region in self._rules:
            if digits.startswith(prefix):
                return Region(region, region != self._home)
        return Region(UNKNOWN, False)


# -- history ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PastCall:
    call_id: str
    started_at: datetime
    disposition: str | None
    queue: str | None
    agent: str | None
    request_kind: str | None


@dataclass(frozen=True)
class PastTicket:
    id: int
    kind: str | None
    category: str | None
    status: str
    created_at: datetime
    deadline: datetime | None

    def overdue(self, now: datetime) -> bool:
        return (
            self.deadline is not None
            and self.deadline < now
            and self.status not in ("resolved", "closed")
        )


class HistorySource(Protocol):
    """Where history comes from (the call and ticket stores); blocking."""

    def past_calls(self, number: str, limit: int) -> Sequence[PastCall]: ...

    def past_tickets(self, number: str, limit: int) -> Sequence[PastTicket]: ...


@dataclass(frozen=True)
class Repeat:
    flag: bool
    of: int | None  # the earlier ticket this one repeats (pre-fills the draft's category)
    reasons: tuple[str, ...]


def repeat_of(
    tickets: Sequence[PastTicket],
    *,
    kind: str | None,
    category: str | None,
    now: datetime,
    window_days: int,
) -> Repeat:
    """A repeat: a ticket of the same category (when one is known; else of the same request
    kind) within the window, or any of the caller's tickets overdue."""
    since = now - timedelta(days=window_days)
    reasons: list[str] = []
    of: int | None = None
    for t in sorted(tickets, key=lambda t: t.created_at, reverse=True):
        same = (t.category == category) if category else (kind is not None and t.kind == kind)
        if same and t.created_at >= since:
            days = max(0, (now - t.created_at).days)
            what = f"category {t.category}" if category else f"kind {t.kind}"
            reasons.append(f"same {what} as ticket #{t.id}, {days} day(s) ago")
            of = of if of is not None else t.id
    for t in tickets:
        if t.overdue(now):
            reasons.append(f"ticket #{t.id} is overdue")
    return Repeat(bool(reasons), of, tuple(reasons))


@dataclass(frozen=True)
class CallerView:
    number: str
    region: Region
    calls: tuple[PastCall, ...]
    tickets: tuple[PastTicket, ...]
    repeat: Repeat

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        return {
            "number": self.number,
            "region": self.region.name,
            "out_of_town": self.region.out_of_town,
            "calls": [
                {
                    "call_id": c.call_id,
                    "started_at": c.started_at.isoformat(),
                    "disposition": c.disposition,
                    "queue": c.queue,
                    "agent": c.agent,
                    "request_kind": c.request_kind,
                }
                for c in self.calls
            ],
            "tickets": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "category": t.category,
                    "status": t.status,
                    "created_at": t.created_at.isoformat(),
                    "deadline": t.deadline.isoformat() if t.deadline else None,
                    "overdue": t.overdue(now),
                }
                for t in self.tickets
            ],
            "repeat": {
                "flag": self.repeat.flag,
                "of": self.repeat.of,
                "reasons": list(self.repeat.reasons),
            },
        }


class CallerHistory:
    def __init__(self, settings: CallerSettings, source: HistorySource) -> None:
        self.settings = settings
        self.regions = RegionRules(settings)
        self._source = source

    def look_up(
        self,
        number: str,
        *,
        kind: str | None,
        category: str | None = None,
        exclude_call: str | None = None,
        now: datetime | None = None,
    ) -> CallerView:
        """Blocking (database). ``exclude_call``: the call in progress, not part of history."""
        now = now or datetime.now(UTC)
        s = self.settings
        if not number:
            return CallerView(number, Region(UNKNOWN, False), (), (), Repeat(False, None, ()))
        calls = [
            c
            for c in self._source.past_calls(number, s.history_limit + 1)
            if c.call_id != exclude_call
        ][: s.history_limit]
        tickets = list(self._source.past_tickets(number, s.history_limit))
        repeat = repeat_of(
            tickets, kind=kind, category=category, now=now, window_days=s.repeat_window_days
        )
        return CallerView(
            number, self.regions.classify(number), tuple(calls), tuple(tickets), repeat
        )


class StoreHistory:
    """History from the call and ticket stores."""

    def __init__(self, calls: CallStore, tickets: TicketStore) -> None:
        self._calls, self._tickets = calls, tickets

    def past_calls(self, number: str, limit: int) -> list[PastCall]:
        return [
            PastCall(r.call_id, r.started_at, r.disposition, r.queue, r.agent, r.request_kind)
            for r in self._calls.find(caller_number=number, limit=limit)
        ]

    def past_tickets(self, number: str, limit: int) -> list[PastTicket]:
        found, _ = self._tickets.search(
            TicketQuery(caller_number=number), now=datetime.now(UTC), limit=limit, offset=0
        )
        return [
            PastTicket(t.id, t.kind, t.category, t.status, t.created_at, t.deadline) for t in found
        ]
