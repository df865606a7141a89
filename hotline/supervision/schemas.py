"""The supervisors' live view as the API, the wallboard's WebSocket and Prometheus see it.

``LiveSnapshot`` is ``GET /api/live``; the wallboard's WebSocket (``/api/live/ws``) sends
``LiveMessage``s: the same snapshot with ``"type": "snapshot"``. ``surveys`` and ``alerts``
are absent (not null) when the service runs without surveys, so the wallboard shows those
panels only when there is something. Times are Unix seconds (``now``, ``joined_at``, ...),
durations seconds rounded to 0.1, except the alerts' ``at`` (ISO 8601). Callers' numbers are
masked to their last four digits (``masked``: true) unless a supervisor asked to ``reveal``
them (``hotline/supervision/masking.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AgentState = Literal["logged_out", "paused", "wrap_up", "ringing", "on_call", "available"]
CallState = Literal["started", "ivr", "queued", "connected"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PbxToday(_Out):
    """Today's calls so far (the hotline's local day)."""

    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    service_level: float | None  # answered within ``service_level_seconds`` / offered
    service_level_seconds: float
    asa: float | None  # average speed of answer, seconds


class LivePbxRow(_Out):
    name: str
    mode: Literal["embedded", "external"]
    connected: bool | None  # None: not known (a view built without the PBX's connection)
    connections: int  # AMI logins since the service started
    down_for: float | None  # seconds since the connection was lost
    calls_in_progress: int
    waiting: int
    agents: dict[str, int]  # agents by state (only the states someone is in)
    today: PbxToday


class WaitingCaller(_Out):
    pbx: str
    call_id: str
    position: int  # 1..n on its PBX, in the order Asterisk serves the queue (priority first)
    caller_number: str  # masked ("*******5678") unless the snapshot is revealed
    joined_at: float
    waited: float
    language: str | None
    request_kind: str | None


class QueueShare(_Out):
    """One PBX's part of a queue."""

    waiting: int
    longest_wait: float
    members: int
    available: int


class LiveQueue(_Out):
    name: str
    language: str
    skill: str | None
    waiting: list[WaitingCaller]  # every PBX's callers, in serving order (position, then wait)
    longest_wait: float
    members: int
    available: int
    by_pbx: dict[str, QueueShare]


class LiveAgent(_Out):
    agent_id: str
    name: str
    extension: str | None  # where it is logged in
    pbx: str | None
    state: AgentState
    reason: str | None  # the pause reason, when paused or in wrap-up
    no_answer: bool  # auto-paused: it let a call ring out
    since: float | None  # in this session state since (ringing and on call: not moved)
    queues: list[str]


class LiveCall(_Out):
    """A call in progress."""

    call_id: str
    pbx: str
    caller_number: str  # masked ("*******5678") unless the snapshot is revealed
    dialled_number: str
    state: CallState
    queue: str | None
    agent: str | None
    language: str | None
    request_kind: str | None
    started_at: float
    duration: float


class SatisfactionTarget(_Out):
    low: float
    high: float


class SurveysToday(_Out):
    """Today's citizen satisfaction and the survey work in hand."""

    key: str
    surveyed: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    satisfaction_rate: float | None
    satisfied_share: float | None
    target: SatisfactionTarget
    calling: int
    scheduled: int
    paused: int
    dialer_paused: bool


class LiveAlert(_Out):
    kind: str
    at: str  # ISO 8601
    message: str
    ticket_id: int | None
    data: dict[str, Any]


def _absent(value: object) -> bool:
    return value is None


class LiveSnapshot(_Out):
    now: float
    pbxes: list[LivePbxRow]
    queues: list[LiveQueue]
    agents: list[LiveAgent]
    calls: list[LiveCall]  # oldest first
    today: PbxToday  # over every PBX
    # True: callers' numbers show their last four digits only (a wall display, the default);
    # False: full numbers, for a supervisor who asked for them (``reveal``, audited).
    masked: bool = False
    # Absent (not null) without surveys.
    surveys: SurveysToday | None = Field(None, exclude_if=_absent)
    alerts: list[LiveAlert] | None = Field(None, exclude_if=_absent)


class LiveMessage(LiveSnapshot):
    """What ``/api/live/ws`` sends: a fresh snapshot shortly after every change, and every few
    seconds regardless (so waits keep counting)."""

    type: Literal["snapshot"]

    @classmethod
    def of(cls, snapshot: LiveSnapshot) -> LiveMessage:
        return cls(type="snapshot", **dict(snapshot))
