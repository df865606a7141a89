"""Record the AMI event streams of real calls as test fixtures for ``test_recorded_streams.py``.

Not part of the normal run (pytest collects only ``test_*.py``); run it on purpose:

    .venv/bin/pytest tests/integration/capture_fixtures.py -p no:cacheprovider

Each test places one real call (pjsua2 phones, the session's private Asterisk and the running
service from ``conftest.py``) while a second AMI session of our own, opened before any call,
keeps every event the PBX sends. No production code changes: the recording hook is only the
``on_event`` callback of that extra connection. Once the service has stored the call's ended
record, the events carrying the call's ``Linkedid`` are written to ``data/<scenario>.ami`` (the
format of ``answered_and_abandoned.ami``: ``Key: value`` lines with CRLF, a blank line after
each event) and the stored record to ``data/<scenario>.expected.json``. Every value is the real
one (numbers, call_ids, times, recording paths): nothing is renumbered.

Finally the stream is replayed through a fresh tracker and compared with the stored record, so a
tracker bug shows up here with the files already written for the fast test to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.db.models import CallRow
from telephony.ami.connection import AmiConnection
from telephony.ami.events import AmiEvent
from telephony.sip import Phone, SipStack
from telephony.tracker import CallTracker
from testkit.support import wait_for
from tests.integration.test_call_records import (
    add_agent,
    add_caller,
    caller_number,
    connect,
    dial_uri,
    ended_record,
    talk_then_hang_up,
)
from tests.integration.test_ivr_calls import EXTRA_NUMBER, add_carrier, menu_call, wait_at
from tests.unit.test_recorded_streams import (
    DATA,
    EXPECTED_SUFFIX,
    RECORD_FIELDS,
    differences,
    parse_stream,
    read_stream,
    record_fields,
    replay,
)


class StreamRecorder:
    """A second AMI session that keeps every event the PBX sends, in arrival order."""

    def __init__(self, settings: Settings, secrets: Secrets) -> None:
        self.events: list[AmiEvent] = []
        self.ami = AmiConnection(settings.pbx.ami, secrets.ami_secret, self.events.append)

    def of_call(self, call_id: str) -> list[AmiEvent]:
        return [e for e in self.events if e.get("Linkedid") == call_id]

    def complete(self, call_id: str) -> list[AmiEvent] | None:
        """The call's events once every channel it had has hung up (None before).

        Our session may lag the service's by a few events, so the service's ended record alone
        does not mean our copy is complete. This test is independent of the tracker under test.
        """
        events = self.of_call(call_id)
        channels = {e.get("Uniqueid") for e in events if e.get("Uniqueid")}
        hung_up = {e.get("Uniqueid") for e in events if e.name == "Hangup"}
        return events if channels and channels <= hung_up else None


@pytest.fixture(scope="module")
async def recorder(
    service: Service, settings: Settings, secrets: Secrets
) -> AsyncIterator[StreamRecorder]:
    rec = StreamRecorder(settings, secrets)
    task = asyncio.create_task(rec.ami.run(), name="capture-ami")
    await asyncio.wait_for(rec.ami.connected.wait(), 15)
    yield rec
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def event_block(ev: AmiEvent) -> str:
    """The event as AMI text, headers in the order received; checked to parse back the same
    through the production parser (``AmiProtocol``), as the replay will read it.

    ``AmiEvent.headers`` keeps the PBX's order. Of a repeated key it keeps the last value,
    which is also all the live tracker saw; Asterisk repeats only ``ChanVariable``, and only
    with ``channelvars`` in manager.conf, which the rendered configuration does not set.
    (Fixtures recorded through panoramisk carry its ``content`` field, empty for events: a
    header like any other to the tracker, which never reads it.)
    """
    block = "".join(f"{key}: {value}\r\n" for key, value in ev.headers.items())
    (back,) = parse_stream((block + "\r\n").encode("utf-8"))
    assert dict(back.headers) == dict(ev.headers), block
    assert back.at == ev.at, block
    return block


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` whole: a capture that fails, or a test reading meanwhile, never sees
    half a fixture. Bytes, not text: no newline translation, the AMI text keeps its CRLF."""
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)


def row_fields(row: CallRow) -> dict[str, Any]:
    """The stored record's tracker-determined fields, times as POSIX floats."""
    out: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = getattr(row, name)
        out[name] = value.timestamp() if isinstance(value, datetime) else value
    return out


async def capture(
    recorder: StreamRecorder, service: Service, scenario: str, number: str, description: str
) -> CallRow:
    """Write the fixture pair of caller ``number``'s call; fail if the replay disagrees."""
    row = await ended_record(service, number)
    events = await wait_for(
        lambda: recorder.complete(row.call_id), 15, f"every hangup of {row.call_id} recorded"
    )
    # A reconnect of our session would mean a hole in the stream: the fixture would lie.
    assert recorder.ami.connections == 1, "the recording AMI session reconnected"

    stream = DATA / f"{scenario}.ami"
    write_atomically(stream, "".join(event_block(ev) + "\r\n" for ev in events).encode("utf-8"))
    expected = {
        "scenario": scenario,
        "description": description,
        "records": [row_fields(row)],
    }
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    write_atomically(DATA / f"{scenario}{EXPECTED_SUFFIX}", text.encode("utf-8"))

    # The written file, read back as the fast test reads it, must give the live record.
    got = replay(CallTracker(), read_stream(stream))
    assert set(got) == {row.call_id}, f"{scenario}: replay ended {sorted(got)}"
    problems = differences(row_fields(row), record_fields(got[row.call_id]))
    assert not problems, f"{scenario}: replay differs from the live record:\n" + "\n".join(problems)
    return row


async def login(service: Service, agent_id: str, ext: str, skills: dict[str, int]) -> None:
    await asyncio.to_thread(
        lambda: service.agents.upsert(
            agent_id, name=agent_id, extension=ext, roles=["agent"], skills=skills
        )
    )
    await service.desk.login(agent_id, ext)


async def test_answered(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
    recorder: StreamRecorder,
) -> None:
    c = await connect(
        sip,
        settings,
        secrets,
        phones,
        agent_ext="2001",
        dialled="12345",
        after_ms=1000,
        play=sounds["agent"],
    )
    await talk_then_hang_up(c.call, sounds["talk3"])
    await c.incoming.wait_ended(10)
    row = await capture(
        recorder,
        service,
        "answered",
        c.number,
        "12345 (no menu) to q_answer; agent 2001 answers after 1 s; the caller talks 3 s and "
        "hangs up",
    )
    assert (row.disposition, row.agent, row.ended_by) == ("answered", "2001", "caller")


async def test_abandoned(
    service: Service,
    sip: SipStack,
    settings: Settings,
    phones: list[Phone],
    recorder: StreamRecorder,
) -> None:
    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, "12346"))  # q_empty: its agent never logged in
    await call.wait_answered(10)
    await wait_for(
        lambda: any(w.caller_number == number for w in service.live.board.callers("q_empty")),
        10,
        f"{number} waiting in q_empty",
    )
    # The caller's patience (not synchronisation): 3 s in the queue, the PBX keeps them.
    with pytest.raises(TimeoutError):
        await call.wait_ended(3.0)
    await call.hangup()
    await call.wait_ended(10)
    row = await capture(
        recorder,
        service,
        "abandoned",
        number,
        "12346 (no menu) to q_empty, whose only member never registered; the caller hangs up "
        "after about 3 s",
    )
    assert (row.disposition, row.queue, row.agent) == ("abandoned", "q_empty", None)


async def test_ring_no_answer_then_second_agent(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
    recorder: StreamRecorder,
) -> None:
    first = await add_agent(sip, settings, secrets, "2011")
    second = await add_agent(sip, settings, secrets, "2012")
    phones += [first, second]
    first.ring_forever()  # away from the desk
    second.auto_answer(after_ms=500, play=sounds["agent"], loop_play=True)
    # sk_zh (rrmemory, 5 s ring timeout): penalty 0 is offered the call before penalty 1; the
    # ring-out auto-pauses the first agent, so the retry goes to the second.
    agents = {"capture_first": ("2011", 5), "capture_second": ("2012", 4)}
    try:
        for agent_id, (ext, level) in agents.items():
            await login(service, agent_id, ext, {"zh": level})
        number = caller_number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(dial_uri(settings, "12360"))
        await call.wait_answered(10)
        rung = await first.next_incoming(10)
        await rung.wait_ended(15)  # the queue gives up on it after the ring timeout
        incoming = await second.next_incoming(15)
        await incoming.wait_answered(10)
        await talk_then_hang_up(call, sounds["talk3"])
        await incoming.wait_ended(10)
    finally:
        for agent_id in agents:
            if (await service.desk.get(agent_id)).logged_in:
                await service.desk.logout(agent_id)
    row = await capture(
        recorder,
        service,
        "ring_no_answer_then_second_agent",
        number,
        "12360 (no menu) to sk_zh; agent 2011 (penalty 0) rings 5 s without answering and is "
        "auto-paused, agent 2012 (penalty 1) answers after 0.5 s; the caller talks 3 s and "
        "hangs up",
    )
    assert (row.disposition, row.agent, row.ended_by) == ("answered", "2012", "caller")
    assert row.ring_time is not None and row.ring_time < 5.0  # the second agent's ring only


async def test_agent_hangs_up_first(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
    recorder: StreamRecorder,
) -> None:
    c = await connect(
        sip,
        settings,
        secrets,
        phones,
        agent_ext="2002",
        dialled="12347",
        after_ms=500,
        play=sounds["agent"],
    )
    await c.call.play(sounds["talk3"])  # the caller speaks to the end, then the agent hangs up
    await c.incoming.hangup()
    await c.call.wait_ended(10)
    row = await capture(
        recorder,
        service,
        "agent_hangs_up_first",
        c.number,
        "12347 (no menu) to q_cut; agent 2002 answers after 0.5 s; after 3 s of caller speech "
        "the agent hangs up",
    )
    assert (row.disposition, row.agent, row.ended_by) == ("answered", "2002", "agent")


async def test_transfer(
    service: Service,
    sip: SipStack,
    settings: Settings,
    phones: list[Phone],
    carrier_port: int,
    recorder: StreamRecorder,
) -> None:
    carrier = await add_carrier(sip, phones, carrier_port)
    number = caller_number()
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, EXTRA_NUMBER))
    await call.wait_answered(10)
    await wait_at(service, number, "start", 0)
    await call.send_dtmf("1")
    incoming = await carrier.next_incoming(15)
    await incoming.wait_answered(10)
    await incoming.wait_media(10)
    await call.hangup()
    await incoming.wait_ended(10)
    row = await capture(
        recorder,
        service,
        "transfer",
        number,
        "12351 (menu 'extra'); the caller presses 1 and is transferred to 110 over the trunk; "
        "the carrier answers after 0.2 s; the caller hangs up",
    )
    assert (row.disposition, row.ivr_path, row.request_kind) == (
        "transferred",
        ["start:1"],
        "emergency",
    )


async def test_ivr_only(
    service: Service,
    sip: SipStack,
    settings: Settings,
    phones: list[Phone],
    recorder: StreamRecorder,
) -> None:
    number = caller_number()
    call = await menu_call(service, sip, settings, phones, number)
    await call.send_dtmf("9")
    await wait_at(service, number, "kind", 1)
    await call.hangup()
    await call.wait_ended(10)
    row = await capture(
        recorder,
        service,
        "ivr_only",
        number,
        "12350 (the shipped menu); the caller presses 9 (English) at the welcome and hangs up "
        "in the request-kind menu",
    )
    assert (row.disposition, row.ivr_path, row.language) == ("ivr_hangup", ["welcome:9"], "en")
