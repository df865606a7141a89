"""End to end: real pjsua2 phones call the real private Asterisk; the service records the calls."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import wave
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.core.auth import hash_password
from hotline.db.models import CallRow
from telephony.sip import CallHandle, Phone, PhoneConfig, SipStack, allocate_ports
from testkit.support import NewDbUrl, TcpProxy, free_port, recorded, wait_for

_numbers = itertools.count(13800138001)


def caller_number() -> str:
    """A caller number unique within the session (records are looked up by it)."""
    return str(next(_numbers))


async def add_caller(sip: SipStack, number: str) -> Phone:
    ports = allocate_ports(1, low=21000, high=30000)[0]
    return await sip.add_phone(
        PhoneConfig(number, sip_port=ports.sip_port, rtp_port=ports.rtp_port)
    )


async def add_agent(sip: SipStack, settings: Settings, secrets: Secrets, ext: str) -> Phone:
    ports = allocate_ports(1, low=21000, high=30000)[0]
    phone = await sip.add_phone(
        PhoneConfig(
            ext,
            sip_port=ports.sip_port,
            rtp_port=ports.rtp_port,
            registrar=f"sip:127.0.0.1:{settings.pbx.embedded.sip_port}",
            auth_user=ext,
            password=secrets.agent_passwords[ext],
        )
    )
    await phone.wait_registered(10)
    return phone


async def seat_agent(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    *,
    agent_id: str,
    name: str,
    seat: str,
    skills: dict[str, int],
    password: str,
    after_ms: int,
) -> Phone:
    """An agent who signs in with ``password`` (the page, the API), stored with ``skills``,
    and the phone at ``seat``: registered, answering ``after_ms`` after it rings."""
    await asyncio.to_thread(
        partial(
            service.agents.upsert,
            agent_id,
            name=name,
            extension=seat,
            roles=["agent"],
            skills=skills,
            password_hash=hash_password(password),
        )
    )
    phone = await add_agent(sip, settings, secrets, seat)
    phones.append(phone)
    phone.auto_answer(after_ms=after_ms)
    return phone


def dial_uri(settings: Settings, number: str) -> str:
    return f"sip:{number}@127.0.0.1:{settings.pbx.embedded.sip_port}"


async def ended_record(service: Service, number: str, timeout: float = 15) -> CallRow:
    def probe() -> CallRow | None:
        rows = service.store.find(caller_number=number, limit=1)
        return rows[0] if rows and rows[0].ended_at is not None else None

    return await wait_for(probe, timeout, f"the ended call record of {number}")


@dataclass
class Connected:
    """A caller connected to an agent through the PBX, with each side's own clock readings."""

    number: str
    call: CallHandle
    incoming: CallHandle
    caller_up: float  # the PBX answered the caller (then queued it)
    agent_up: float  # the agent answered


async def connect(
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    *,
    agent_ext: str,
    dialled: str,
    after_ms: int,
    play: Path,
) -> Connected:
    agent = await add_agent(sip, settings, secrets, agent_ext)
    phones.append(agent)
    agent.auto_answer(after_ms=after_ms, play=play, loop_play=True)
    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, dialled))
    caller_up = await call.wait_answered(10)
    incoming = await agent.next_incoming(10)
    agent_up = await incoming.wait_answered(10)
    return Connected(number, call, incoming, caller_up, agent_up)


async def talk_then_hang_up(call: CallHandle, speech: Path) -> float:
    """The caller speaks (the WAV is played to its end), then hangs up; returns when."""
    await call.wait_media(5)
    await call.play(speech)
    hung_up = time.time()
    await call.hangup()
    await call.wait_ended(10)
    return hung_up


async def call_both_speak(
    sip: SipStack,
    settings: Settings,
    service: Service,
    phones: list[Phone],
    seat: Phone,
    *,
    dialled: str,
    caller_says: Path,
    agent_says: Path,
) -> CallRow:
    """A new caller dials ``dialled`` and reaches ``seat``; the caller speaks to the end, then
    the agent replies; the caller hangs up. Returns the ended call record."""
    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, dialled))
    await call.wait_answered(10)
    incoming = await seat.next_incoming(10)
    await incoming.wait_answered(10)
    assert await call.play(caller_says)  # the caller speaks first, to the end
    assert await incoming.play(agent_says)  # then the agent replies
    await call.hangup()
    await call.wait_ended(10)
    return await ended_record(service, number)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return float(w.getnframes() / w.getframerate())


async def test_answered_call_is_recorded_with_timings_and_recordings(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
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
    # Both talk: the caller's 3 s of speech is played to its end, then the caller hangs up.
    hung_up = await talk_then_hang_up(c.call, sounds["talk3"])
    await c.incoming.wait_ended(10)
    agent_up = c.agent_up

    rec = await ended_record(service, c.number)
    assert rec.disposition == "answered"
    assert rec.dialled_number == "12345"
    assert rec.queue == "q_answer"
    assert rec.agent == "2001" and rec.agent_name == "Answer Agent"
    assert rec.ended_by == "caller"
    expected_wait = agent_up - c.caller_up
    assert expected_wait >= 1.0  # the agent let it ring 1 s
    assert rec.queue_wait == pytest.approx(expected_wait, abs=0.5)
    assert rec.talk_time is not None
    assert rec.talk_time == pytest.approx(hung_up - agent_up, abs=0.5)
    assert rec.talk_time >= 3.0
    assert set(rec.recordings) == {"mix", "caller", "agent"}
    for leg, path in rec.recordings.items():
        p = Path(path)
        # MixMonitor closes its files just after the hangup.
        await wait_for(partial(recorded, p), 10, f"{leg} recording")
        assert wav_seconds(p) >= 2.5, f"{leg} recording is too short"


async def test_caller_hanging_up_in_queue_is_abandoned(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone]
) -> None:
    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, "12346"))  # q_empty: its agent never logged in
    joined = await call.wait_answered(10)
    # The caller's patience: 4 s. The PBX must keep them waiting all that time.
    with pytest.raises(TimeoutError):
        await call.wait_ended(4.0)
    hung_up = time.time()
    await call.hangup()
    await call.wait_ended(10)

    rec = await ended_record(service, number)
    assert rec.disposition == "abandoned"
    assert rec.queue == "q_empty"
    assert rec.agent is None and rec.talk_time is None
    assert rec.queue_wait == pytest.approx(hung_up - joined, abs=0.5)
    assert rec.recordings == {}


async def test_ami_cut_during_call_reconnects_and_record_closes(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
) -> None:
    c = await connect(
        sip,
        settings,
        secrets,
        phones,
        agent_ext="2002",
        dialled="12347",
        after_ms=300,
        play=sounds["agent"],
    )
    before = service.ami.connections
    service.ami.drop()  # the TCP connection to the PBX is cut mid-call
    await wait_for(lambda: service.ami.connections > before, 10, "AMI reconnect")
    hung_up = await talk_then_hang_up(c.call, sounds["talk3"])

    rec = await ended_record(service, c.number)
    assert rec.disposition == "answered"
    assert rec.agent == "2002"
    assert rec.queue_wait == pytest.approx(c.agent_up - c.caller_up, abs=0.5)
    assert rec.talk_time == pytest.approx(hung_up - c.agent_up, abs=0.5)


async def test_call_ending_while_ami_is_down_is_closed_by_resync(
    pbx: object,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
    db_url: NewDbUrl,
) -> None:
    """A second service reaches the PBX through a proxy that the test cuts and holds down
    while the caller hangs up: the Hangup event is never seen, yet the record closes."""
    proxy = TcpProxy(settings.pbx.ami.port)
    await proxy.start()
    own = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": db_url()}),
            "listen": settings.listen.model_copy(
                update={"agi_port": free_port(), "api_port": free_port()}
            ),
        }
    )
    svc = await Service.build(own, secrets)
    svc.ami.port = proxy.port
    task = asyncio.create_task(svc.run())
    try:
        await asyncio.wait_for(svc.ami.connected.wait(), 10)
        number = caller_number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call: CallHandle = await caller.dial(dial_uri(settings, "12346"))
        await call.wait_answered(10)
        await wait_for(
            lambda: any(c.caller_number == number and c.queue for c in svc.calls.tracker.active),
            10,
            "the call queued in the tracker",
        )
        await proxy.stop_accepting()
        proxy.cut()
        await wait_for(lambda: not svc.ami.connected.is_set(), 10, "the service to notice the cut")
        await call.hangup()
        await call.wait_ended(10)
        await proxy.start(port=proxy.port)  # the PBX is reachable again
        rec = await ended_record(svc, number)
        assert rec.disposition == "abandoned"
        assert rec.resynced
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await proxy.close()
