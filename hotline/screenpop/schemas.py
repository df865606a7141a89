"""The agent's page: the draft it files, what its selects offer, and the messages of its
WebSocket (``/api/agent/ws``, server → page), a union discriminated by ``type``:

- ``pop``: a call connected to this agent: the caller, the call, the repeat flag, suggested
  articles and the ticket draft (sent again to a page that (re)connects while it is current);
- ``draft``: the draft of the current call changed (the transcript and the system's
  suggestions arrived after the call);
- ``done``: the call's ticket was filed (from any of the agent's pages): no longer current;
- ``state``: the agent's state changed (logged out, available, ringing, on call, wrap-up,
  paused; auto-paused after a ring-out is ``paused`` with ``no_answer``).

docs/websocket.md describes them; docs/websocket.schema.json is their JSON Schema.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from drafting import Choice, DateMention, Phone, PlaceMention, Summary, Urgency
from hotline.callers.schemas import CallerHistoryOut, RepeatOut
from hotline.supervision.schemas import AgentState, LiveAgent

CALLBACK_NUMBER = r"^\+?[0-9][0-9 ()-]{0,38}$|^$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- HTTP -----------------------------------------------------------------------------------
class CallTicketIn(_In):
    """The draft of the call on the agent's screen, as the agent files it."""

    status: Literal["draft", "open"] = "open"
    kind: str | None = Field(None, max_length=32)
    category: str | None = Field(None, max_length=40)
    location: str = Field("", max_length=1000)
    # The number the caller asks to be called back on, when not the one they call from;
    # written as agents type it (spaces, dashes), stored as digits.
    callback_number: str = Field("", pattern=CALLBACK_NUMBER)
    description: str = Field("", max_length=20000)

    @field_validator("callback_number", mode="before")
    @classmethod
    def _halfwidth(cls, v: object) -> object:
        # A Chinese input method may type full-width digits (U+FF10..): the same number.
        return unicodedata.normalize("NFKC", v) if isinstance(v, str) else v

    @field_validator("callback_number")
    @classmethod
    def _digits(cls, v: str) -> str:
        digits = "".join(c for c in v if c in "0123456789")
        if len(digits) > 20:  # E.164 has at most 15, an extension a few more
            raise ValueError("a call-back number has at most 20 digits")
        return ("+" if v.startswith("+") else "") + digits


class AgentConfigOut(BaseModel):
    kinds: list[dict[str, str]]
    categories: list[dict[str, str]]
    pause_reasons: list[str]


# -- the WebSocket ----------------------------------------------------------------------------
class PopCaller(CallerHistoryOut):
    language: str | None  # chosen in the IVR (or the route's)


class PopCall(BaseModel):
    queue: str | None
    wait_s: float | None  # time in the queue
    ivr_path: list[str]  # "node:choice" steps through the menu
    request_kind: str | None  # chosen in the IVR
    request_category: str | None  # chosen at an IVR category level (a draft.categories key)
    started_at: float | None  # Unix seconds


class Suggestion(BaseModel):
    """A knowledge-base article for the call's request kind and category (the IVR's, else the
    earlier ticket's when the call repeats one)."""

    id: str
    title: str
    snippet: str  # the body's start, plain text
    category: str | None


class SuggestedFields(BaseModel):
    """The system's suggestions for the ticket form, from the transcript (None: nothing found).
    The page fills them in as suggestions, never over what the agent typed."""

    kind: str | None = None
    category: str | None = None
    location: str | None = None
    callback_number: str | None = None  # the number the caller gave (digits)
    description: str | None = None  # the summary: the caller's key sentences


class DraftAnalysis(BaseModel):
    """The transcription job's draft (``drafting.Draft.as_dict``): each field with its
    confidence and evidence (what was said, by whom, when), ``source: "system"``."""

    language: str
    kind: Choice
    category: Choice
    places: list[PlaceMention]
    phones: list[Phone]
    dates: list[DateMention]
    urgency: Urgency
    summary: Summary
    source: Literal["system"] = "system"
    ticket_fields: SuggestedFields


class CallDraft(BaseModel):
    """The ticket draft of the call on the agent's screen."""

    call_id: str
    kind: str | None  # the IVR's request kind
    # The IVR's category level, else the earlier ticket's when the call repeats one.
    category: str | None
    caller_number: str
    caller_language: str | None
    location: str = ""
    callback_number: str = ""
    description: str = ""
    repeat_of: int | None = None
    transcript: str | None = None  # "caller: ..." lines, once transcribed
    transcript_json: dict[str, Any] | None = None  # the transcript (asr.transcript.to_dict)
    suggested: SuggestedFields | None = None  # from the transcript
    analysis: DraftAnalysis | None = None  # how the suggestions were found


class PopMessage(BaseModel):
    type: Literal["pop"]
    call_id: str
    agent_id: str
    received_at: float  # the AgentConnect reached the service (Unix seconds)
    caller: PopCaller
    call: PopCall
    repeat: RepeatOut
    suggestions: list[Suggestion]
    draft: CallDraft
    sent_at: float


class DraftMessage(BaseModel):
    type: Literal["draft"]
    call_id: str
    draft: CallDraft  # the whole draft as it stands now


class DoneMessage(BaseModel):
    type: Literal["done"]
    call_id: str


class StateMessage(BaseModel):
    """The agent's state, sent when the page connects and whenever it changes."""

    type: Literal["state"]
    agent_id: str
    state: AgentState
    reason: str | None  # the pause reason (paused, wrap_up)
    no_answer: bool  # auto-paused: it let a call ring out
    extension: str | None  # the seat it is logged in at
    since: float | None  # in this session state since (Unix seconds)

    @classmethod
    def of(cls, row: LiveAgent) -> StateMessage:
        return cls(
            type="state",
            agent_id=row.agent_id,
            state=row.state,
            reason=row.reason,
            no_answer=row.no_answer,
            extension=row.extension,
            since=row.since,
        )


AgentMessage = Annotated[
    PopMessage | DraftMessage | DoneMessage | StateMessage, Field(discriminator="type")
]
AGENT_MESSAGE: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)
