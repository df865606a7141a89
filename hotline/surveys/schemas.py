"""Request and response bodies of the survey-callback API and the supervisors' alerts.

Times are ISO 8601 in the hotline's time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SurveyOut(BaseModel):
    id: int
    ticket_id: int | None
    call_id: str | None  # the call it follows, when call-triggered
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
