"""Request and response bodies of the API (kept apart from the store's models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_In):
    agent_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    token: str
    agent_id: str
    roles: list[str]
    expires_in: float


class AgentIn(_In):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    extension: str | None = Field(None, pattern=r"^[0-9]{2,8}$")
    roles: list[str] = ["agent"]
    skills: dict[str, int] = {}
    password: str | None = Field(None, min_length=8, max_length=256)


class AgentOut(BaseModel):
    agent_id: str
    name: str
    extension: str | None
    roles: list[str]
    skills: dict[str, int]
    logged_in_extension: str | None
    paused: bool
    pause_reason: str | None
    state_since: float | None
    queues: list[str]
    pbx: str | None = None  # the PBX of the seat it is logged in at (else of its usual one)


class LoginIn(_In):
    extension: str | None = Field(None, pattern=r"^[0-9]{2,8}$")


class PauseIn(_In):
    reason: str = Field("break", min_length=1, max_length=64)


class AgentEventOut(BaseModel):
    event: str
    reason: str | None
    extension: str | None
    at: float
    pbx: str | None = None


# -- tickets -------------------------------------------------------------------------------------
# Times are ISO 8601 in the hotline's time zone (a deadline reads as "…T18:00:00+08:00").
class TicketFieldsIn(_In):
    """Ticket fields staff may set; on update only those present are changed."""

    kind: str | None = Field(None, max_length=32)
    category: str | None = Field(None, max_length=40)
    channel: str | None = Field(None, max_length=16)
    caller_number: str | None = Field(None, pattern=r"^[0-9+*#]{0,32}$")
    caller_name: str | None = Field(None, max_length=128)
    caller_language: str | None = Field(None, max_length=8)
    location: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=20000)
    department: str | None = Field(None, max_length=40)
    transcript: dict[str, Any] | list[Any] | str | None = None
    handler: str | None = Field(None, max_length=64)  # supervisors only
    deadline: datetime | None = None  # supervisors only; without a zone: local time
    repeat_of: int | None = Field(None, ge=1)  # an earlier ticket this one repeats


class TicketCreateIn(TicketFieldsIn):
    status: Literal["draft", "open"] = "open"
    linkedid: str | None = Field(None, min_length=1, max_length=64)  # the call it comes from


class TicketUpdateIn(TicketFieldsIn):
    pass


class TicketTransitionIn(_In):
    to: str = Field(min_length=1, max_length=16)
    note: str = Field("", max_length=4000)  # why (required to return, reopen, discard)
    department: str | None = Field(None, max_length=40)  # when dispatching
    resolution: str | None = Field(None, max_length=20000)  # the reply, when resolving


class TicketCallIn(_In):
    linkedid: str = Field(min_length=1, max_length=64)


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
    linkedid: str
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


# -- knowledge base ------------------------------------------------------------------------------
KbKind = Literal["consultation", "help_request", "complaint", "report", "suggestion"]


class KbArticleIn(_In):
    """An article as an editor writes it; ``id`` only on POST (generated when left out)."""

    id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    category: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    kinds: list[KbKind] = []
    keywords: list[str] = Field([], max_length=30)
    language: Literal["zh", "en"] = "zh"


class KbArticleOut(BaseModel):
    id: str
    title: str
    body: str
    category: str | None
    kinds: list[str]
    keywords: list[str]
    language: str
    updated_at: float
    updated_by: str


class KbHitOut(BaseModel):
    id: str
    title: str
    category: str | None
    kinds: list[str]
    language: str
    score: float  # higher is better; comparable within one response only
    title_html: str  # HTML-escaped, the search terms in <mark>
    snippet: str  # the body around the first hit, HTML-escaped, terms in <mark>


# -- the agent page ---------------------------------------------------------------------------
class CallTicketIn(_In):
    """The draft of the call on the agent's screen, as the agent files it."""

    status: Literal["draft", "open"] = "open"
    kind: str | None = Field(None, max_length=32)
    category: str | None = Field(None, max_length=40)
    location: str = Field("", max_length=1000)
    description: str = Field("", max_length=20000)


class AgentConfigOut(BaseModel):
    kinds: list[dict[str, str]]
    categories: list[dict[str, str]]
    pause_reasons: list[str]


class RepeatOut(BaseModel):
    flag: bool
    of: int | None
    reasons: list[str]


# -- satisfaction surveys ------------------------------------------------------------------------
class SurveyOut(BaseModel):
    id: int
    ticket_id: int | None
    linkedid: str | None  # the call it follows, when call-triggered
    number: str
    language: str
    status: str
    attempts: int
    next_at: datetime | None  # hotline local time
    result: str | None  # satisfied | basically_satisfied | dissatisfied
    reason: str  # why it ended as it did (unreachable, skipped, cancelled by ...)
    has_comment: bool  # a spoken comment was recorded (the file stays on the server)
    comment_text: str | None
    agent: str | None
    department: str | None
    category: str | None
    kind: str | None
    applied: bool  # the result has been applied to the ticket
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class SurveyAttemptOut(BaseModel):
    n: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None  # None while the call is going on
    sip_status: int | None
    digits: str
    result: str | None


class SurveyDetailOut(SurveyOut):
    attempt_log: list[SurveyAttemptOut]  # every call placed, first first


class SurveyPageOut(BaseModel):
    items: list[SurveyOut]
    total: int
    limit: int
    offset: int


class SurveyCancelIn(_In):
    reason: str = Field("", max_length=200)


class SurveyDialerOut(BaseModel):
    paused: bool
    counts: dict[str, int]  # surveys per status


class OptOutIn(_In):
    reason: str = Field("", max_length=200)


class OptOutOut(BaseModel):
    number: str
    opted_out: bool
    changed: bool  # False: it already was so


class SatisfactionRowOut(BaseModel):
    key: str
    surveyed: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    satisfaction_rate: float | None  # (satisfied + basically satisfied) / surveyed
    satisfied_share: float | None  # satisfied / surveyed


class SatisfactionStatsOut(BaseModel):
    since: datetime
    until: datetime
    timezone: str
    group: str
    target: dict[str, float]  # the published band of the satisfaction rate: low, high
    rows: list[SatisfactionRowOut]


class AlertOut(BaseModel):
    kind: str
    at: datetime
    message: str
    ticket_id: int | None
    data: dict[str, Any]
