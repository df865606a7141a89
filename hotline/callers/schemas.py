"""A caller as the agent's page sees it: region, recent calls and tickets, the repeat flag.
Times are ISO 8601 strings, as ``CallerView.as_dict`` gives them."""

from __future__ import annotations

from pydantic import BaseModel


class PastCallOut(BaseModel):
    call_id: str
    started_at: str
    disposition: str | None
    queue: str | None
    agent: str | None
    request_kind: str | None


class PastTicketOut(BaseModel):
    id: int
    kind: str | None
    category: str | None
    status: str
    created_at: str
    deadline: str | None
    overdue: bool  # unfinished and past its deadline


class RepeatOut(BaseModel):
    flag: bool
    of: int | None  # the earlier ticket this call repeats
    reasons: list[str]


class CallerHistoryOut(BaseModel):
    number: str
    # None / False when the look-up failed (the pop still goes, without history).
    region: str | None = None
    out_of_town: bool = False
    calls: list[PastCallOut] = []
    tickets: list[PastTicketOut] = []


class CallerOut(CallerHistoryOut):
    repeat: RepeatOut
