"""Where a finished transcription goes (``hotline.transcription.delivery``), with in-memory fakes:
a call's transcript reaches the agent's pop and every ticket of the call (a ticket that refuses
it is skipped); a survey's spoken comment goes to its survey only; how long after the hang-up
the transcript and the draft arrived is timed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hotline.core.auth import Principal
from hotline.core.errors import Conflict
from hotline.jobs.store import DONE, Job
from hotline.telemetry.metrics import ServiceMetrics
from hotline.tickets.service import SYSTEM
from hotline.transcription.delivery import TranscriptDelivery

TRANSCRIPT = {
    "turns": [
        {"speaker": "caller", "text": "路灯坏了"},
        {"speaker": "agent", "text": "好的，我记录一下"},
    ]
}
AT = datetime(2026, 12, 10, 11, 30, tzinfo=UTC)  # when the job was created; any instant
DRAFT = {"ticket_fields": {"kind": "complaint", "category": "street_lighting"}, "urgent": False}


def job(call_id: str, transcript: Any = TRANSCRIPT, draft: Any = DRAFT) -> Job:
    return Job(
        1,
        call_id,
        "zh",
        "complaint",
        {"caller": "c.wav"},
        DONE,
        1,
        AT,
        transcript=transcript,
        draft=draft,
    )


class Pops:
    """``shown``: whether a pop still shows the call (False: the agent filed it already)."""

    def __init__(self, shown: bool = True) -> None:
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.shown = shown

    def update(self, call_id: str, draft: dict[str, Any]) -> bool:
        self.updates.append((call_id, draft))
        return self.shown


class Calls:
    def __init__(self, links: dict[str, list[int]]) -> None:
        self.links = links

    def tickets_of_call(self, call_id: str) -> list[int]:
        return self.links.get(call_id, [])


class Tickets:
    def __init__(self, closed: frozenset[int] = frozenset()) -> None:
        self.closed = closed
        self.updates: list[tuple[Principal, int, dict[str, Any]]] = []

    async def update(self, who: Principal, ticket_id: int, values: dict[str, Any]) -> object:
        if ticket_id in self.closed:
            raise Conflict("ticket.closed", f"ticket {ticket_id} is closed")
        self.updates.append((who, ticket_id, values))
        return None


class Comments:
    def __init__(self) -> None:
        self.delivered: list[str] = []

    def owns(self, job: Job) -> bool:
        return job.call_id.startswith("survey-")

    async def deliver_comment(self, job: Job) -> None:
        self.delivered.append(job.call_id)


async def test_a_calls_transcript_reaches_the_pop_and_every_ticket_of_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pops, tickets, comments = Pops(), Tickets(closed=frozenset({12})), Comments()
    deliver = TranscriptDelivery(pops, Calls({"pbx1-1.1": [11, 12, 13]}), tickets, comments)
    with caplog.at_level(logging.WARNING):
        await deliver(job("pbx1-1.1"))
    assert pops.updates == [
        (
            "pbx1-1.1",
            {
                "transcript": "caller: 路灯坏了\nagent: 好的，我记录一下",
                "transcript_json": TRANSCRIPT,
                "suggested": {"kind": "complaint", "category": "street_lighting"},
                "analysis": DRAFT,
            },
        )
    ]
    # The closed ticket refuses it (logged); the others keep the transcript, as the system.
    assert tickets.updates == [
        (SYSTEM, 11, {"transcript": TRANSCRIPT}),
        (SYSTEM, 13, {"transcript": TRANSCRIPT}),
    ]
    assert "not put on ticket 12: ticket 12 is closed" in caplog.text
    assert comments.delivered == []


async def test_a_call_without_draft_or_tickets_still_updates_the_pop() -> None:
    pops, tickets = Pops(), Tickets()
    await TranscriptDelivery(pops, Calls({}), tickets)(job("pbx1-2.1", draft=None))
    assert pops.updates[0][1]["suggested"] == {} and pops.updates[0][1]["analysis"] is None
    assert tickets.updates == []


async def test_a_survey_comment_goes_to_its_survey_only() -> None:
    pops, tickets, comments = Pops(), Tickets(), Comments()
    deliver = TranscriptDelivery(pops, Calls({"survey-7": [5]}), tickets, comments)
    await deliver(job("survey-7"))
    assert comments.delivered == ["survey-7"]
    assert pops.updates == [] and tickets.updates == []
    # Surveys off: nothing owns the job, it is treated as a call's.
    await TranscriptDelivery(pops, Calls({"survey-7": [5]}), tickets)(job("survey-7"))
    assert [t[1] for t in tickets.updates] == [5]


async def test_the_time_from_hang_up_to_transcript_and_draft_is_observed() -> None:
    registry = CollectorRegistry()
    metrics = ServiceMetrics.on(registry)
    late = [AT + timedelta(seconds=42), AT + timedelta(seconds=50), AT + timedelta(seconds=70)]

    def deliver(pops: Pops, comments: Comments | None = None) -> TranscriptDelivery:
        return TranscriptDelivery(
            pops,
            Calls({}),
            Tickets(),
            comments,
            to_transcript=metrics.hangup_to_transcript,
            to_draft=metrics.hangup_to_draft,
            now=lambda: late[0],
        )

    await deliver(Pops())(job("pbx1-3.1"))  # a pop shows the call: both timed
    late.pop(0)
    await deliver(Pops(shown=False))(job("pbx1-4.1"))  # no pop any more: the transcript only
    late.pop(0)
    await deliver(Pops(), Comments())(job("survey-8"))  # a survey's comment: neither
    got = registry.get_sample_value
    assert got("hotline_hangup_to_draft_seconds_count") == 1
    assert got("hotline_hangup_to_draft_seconds_sum") == 42
    assert got("hotline_hangup_to_transcript_seconds_count") == 2
    assert got("hotline_hangup_to_transcript_seconds_sum") == 42 + 50
