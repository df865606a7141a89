"""Request and response bodies of the ticket API (kept apart from the store's models).

Times are ISO 8601 in the hotline's time zone (a deadline reads as "…T18:00:00+08:00")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketFieldsIn(_In):
    """Ticket fields staff may set; on update only those present are changed."""

    kind: str | None = Field(None, max_length=32)
    category: str | None = Field(None, max_length=40)
    channel: str | None = Field(None, max_length=16)
    caller_number: str | None = Field(None, pattern=r"^[0-9+*#]{0,32}$")
    caller_name: str | None = Field(None, max_length=128)
    caller_language: str | None = Field(None, max_length=8)
    location: str | None = Field(None, max_length=1000)
    # The number the caller asked to be called back on (digits), when not caller_number.
    callback_number: str | None = Field(None, pattern=r"^\+?[0-9]{0,20}$")
    description: str | None = Field(None, max_length=20000)
    department: str | None = Field(None, max_length=40)
    transcript: dict[str, Any] | list[Any] | str | None = None
    handler: str | None = Field(None, max_length=64)  # supervisors only
    deadline: datetime | None = None  # supervisors only; without a zone: local time
    repeat_of: int | None = Field(None, ge=1)  # an earlier ticket this one repeats


class TicketCreateIn(TicketFieldsIn):
    status: Literal["draft", "open"] = "open"
    call_id: str | None = Field(None, min_length=1, max_length=64)  # the call it comes from


class TicketUpdateIn(TicketFieldsIn):
    pass


class TicketTransitionIn(_In):
    to: str = Field(min_length=1, max_length=16)
    note: str = Field("", max_length=4000)  # why (required to return, reopen, discard)
    department: str | None = Field(None, max_length=40)  # when dispatching
    resolution: str | None = Field(None, max_length=20000)  # the reply, when resolving


class TicketCallIn(_In):
    call_id: str = Field(min_length=1, max_length=64)


class TicketOut(BaseModel):
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
    handler: str | None
    repeat_of: int | None  # the earlier ticket of the same caller and category
    created_by: str | None
    updated_by: str | None
    deadline: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    overdue: bool  # unfinished and past its deadline
    next: list[str]  # the statuses it may move to


class TicketEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    changes: dict[str, Any]  # field → [from, to]
    note: str


class LinkedCallOut(BaseModel):
    call_id: str
    linked_at: datetime
    linked_by: str
    started_at: datetime | None
    caller_number: str | None
    agent: str | None
    disposition: str | None
    talk_time: float | None
    language: str | None
    request_kind: str | None


class TicketDetailOut(TicketOut):
    transcript: Any
    history: list[TicketEventOut]
    calls: list[LinkedCallOut]


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


class TicketTransitionOut(BaseModel):
    source: str
    target: str
    name: str
    requires: list[str]
    supervisor_only: bool


class TicketTaxonomyOut(BaseModel):
    kinds: list[str]
    channels: list[str]
    statuses: list[str]
    transitions: list[TicketTransitionOut]
    categories: list[dict[str, Any]]
    departments: list[dict[str, Any]]
