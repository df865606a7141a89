"""Fast unit tests of the call tracker on an AMI stream recorded from the real test PBX.

``data/answered_and_abandoned.ami``: caller 13900000001 dials 12345, agent 2001 answers after
1 s, they talk 3 s, the caller hangs up; then 13900000002 waits about 2 s in an empty queue and
hangs up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.ami.events import AmiEvent
from telephony.ami.protocol import NEED_DATA, AmiMalformed, AmiProtocol
from telephony.tracker import CallRecord, CallTracker, Disposition, UpdateKind
from tests.unit.test_recorded_streams import read_stream

STREAM = Path(__file__).resolve().parents[1] / "data" / "answered_and_abandoned.ami"


def recorded() -> list[AmiEvent]:
    """The stream through the production parser (see ``read_stream``)."""
    return read_stream(STREAM)


def ended(tracker: CallTracker, events: list[AmiEvent]) -> dict[str, CallRecord]:
    out = {}
    for ev in events:
        for update in tracker.feed(ev):
            if update.kind is UpdateKind.ENDED:
                out[update.record.caller_number] = update.record
    return out


def first(events: list[AmiEvent], name: str, **match: str) -> AmiEvent:
    return next(
        e for e in events if e.name == name and all(e.get(k) == v for k, v in match.items())
    )


def test_replay_gives_both_records_with_pbx_timings() -> None:
    events = recorded()
    records = ended(CallTracker(), events)
    assert set(records) == {"13900000001", "13900000002"}

    answered = records["13900000001"]
    join = first(events, "QueueCallerJoin", CallerIDNum="13900000001")
    connect = first(events, "AgentConnect")
    assert answered.disposition is Disposition.ANSWERED
    assert (answered.queue, answered.agent, answered.dialled_number) == (
        "q_answer",
        "2001",
        "12345",
    )
    assert answered.queue_wait is not None and answered.talk_time is not None
    assert answered.queue_wait == pytest.approx(connect.at - join.at, abs=1e-3)
    # Asterisk's own whole-second HoldTime agrees with the microsecond timestamps.
    assert abs(answered.queue_wait - float(connect.get("HoldTime"))) < 1.0
    complete = first(events, "AgentComplete")
    assert abs(answered.talk_time - float(complete.get("TalkTime"))) < 1.0
    assert answered.talk_time >= 3.0
    assert answered.ended_by == "caller"
    assert set(answered.recordings) == {"mix", "caller", "agent"}

    abandoned = records["13900000002"]
    assert abandoned.disposition is Disposition.ABANDONED
    assert abandoned.queue == "q_empty" and abandoned.agent is None
    leave = first(events, "QueueCallerAbandon")
    assert abandoned.queue_wait is not None
    assert abs(abandoned.queue_wait - float(leave.get("HoldTime"))) < 1.0


def test_duplicated_events_change_nothing() -> None:
    events = recorded()
    once = ended(CallTracker(), events)
    twice = ended(CallTracker(), [e for ev in events for e in (ev, ev)])
    assert twice == once


def test_late_replay_of_an_ended_call_is_ignored() -> None:
    events = recorded()
    tracker = CallTracker()
    ended(tracker, events)
    assert [u for ev in events for u in tracker.feed(ev)] == []
    assert tracker.active == []


def test_outage_before_hangup_is_closed_by_resync() -> None:
    """The stream stops before the answered call's hangups; the PBX then lists no channels."""
    events = recorded()
    caller = first(events, "Newchannel", CallerIDNum="13900000001").get("Linkedid")
    cut = next(
        i for i, e in enumerate(events) if e.name == "HangupRequest" and e.get("Linkedid") == caller
    )
    tracker = CallTracker()
    ended(tracker, events[:cut])
    assert [c.caller_number for c in tracker.active] == ["13900000001"]
    last = events[cut - 1].at
    result = tracker.resync([], asked_at=last + 5, now=last + 6)
    assert result.gaps == []
    (update,) = [u for u in result.updates if u.kind is UpdateKind.ENDED]
    rec = update.record
    assert rec.disposition is Disposition.ANSWERED and rec.resynced
    assert rec.agent == "2001"


def test_unknown_events_and_garbage_are_ignored() -> None:
    tracker = CallTracker()
    assert tracker.feed(AmiEvent("FullyBooted", {"Status": "Fully Booted"}, 0.0)) == []
    assert tracker.feed(AmiEvent("Hangup", {"Uniqueid": "x"}, 0.0)) == []  # no Linkedid
    ami = AmiProtocol()
    ami.receive_data(b"garbage without structure\r\n\r\n")
    assert isinstance(ami.next_event(), AmiMalformed) and ami.next_event() is NEED_DATA
    assert AmiEvent.from_headers({"Event": "X", "Timestamp": "not-a-number"}, 5.0).at == 5.0
