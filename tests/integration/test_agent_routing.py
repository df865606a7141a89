"""Skills-based routing and agent states, end to end: real Asterisk, pjsua2 agents and callers.

Agents log in through the service (QueueAdd by skill); what Asterisk does is checked against
its own ``QueueStatus`` and against the calls the agents' phones actually receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hotline.agents.store import Agent
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.supervision.schemas import LiveAgent
from telephony.asterisk.process import PrivateAsterisk
from telephony.queue_state import QueueBoard
from telephony.sip import Phone, SipStack
from telephony.sip.pool import PhonePool, Track
from testkit.support import wait_for
from tests.integration.test_call_records import add_agent, caller_number, dial_uri, ended_record

LoginAgent = Callable[..., Awaitable[Agent]]


@pytest.fixture
async def login_agent(service: Service) -> AsyncIterator[LoginAgent]:
    """Create an agent with skills and log it in at an extension; logged out afterwards."""
    made: list[str] = []

    async def make(agent_id: str, ext: str, skills: dict[str, int]) -> Agent:
        await asyncio.to_thread(
            lambda: service.agents.upsert(
                agent_id, name=agent_id, extension=ext, roles=["agent"], skills=skills
            )
        )
        made.append(agent_id)
        return await service.desk.login(agent_id, ext)

    yield make
    for agent_id in made:
        if (await service.desk.get(agent_id)).logged_in:
            await service.desk.logout(agent_id)


@pytest.fixture
async def pool() -> AsyncIterator[PhonePool]:
    p = PhonePool(max_workers=2)
    yield p
    await p.close()


async def status(service: Service) -> QueueBoard:
    return await service.desk.control.status()


def members(board: QueueBoard, queue: str) -> dict[str, bool]:
    """Interface → paused, as Asterisk reports it."""
    return {m.interface: m.paused for m in board.members.get(queue, {}).values()}


async def call(pool: PhonePool, settings: Settings, dialled: str) -> tuple[str, Track]:
    number = caller_number()
    track = await pool.call(number, dial_uri(settings, dialled))
    assert track is not None
    await asyncio.wait_for(asyncio.shield(track.answered), 10)  # the PBX answers, then queues
    return number, track


async def queued(service: Service, queue: str, number: str) -> None:
    def probe() -> bool:
        return any(w.caller_number == number for w in service.live.board.callers(queue))

    await wait_for(probe, 10, f"{number} waiting in {queue}")


async def test_english_caller_waits_for_english_agent_mandarin_caller_takes_free_one(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    login_agent: LoginAgent,
) -> None:
    en_phone = await add_agent(sip, settings, secrets, "2012")
    zh_phone = await add_agent(sip, settings, secrets, "2011")
    phones += [en_phone, zh_phone]
    en_phone.auto_answer(after_ms=200)
    zh_phone.auto_answer(after_ms=200)
    await login_agent("en_agent", "2012", {"en": 5})
    await login_agent("zh_agent", "2011", {"zh": 5})
    board = await status(service)
    assert set(members(board, "sk_en")) == {"PJSIP/2012"}
    assert set(members(board, "sk_zh")) == {"PJSIP/2011"}

    # The English agent is made busy by a first English caller.
    busy_number, busy = await call(pool, settings, "12361")
    first = await en_phone.next_incoming(10)
    await first.wait_answered(10)
    # A second English caller: the Mandarin-only agent is free but must not be offered it.
    waiting_number, waiting = await call(pool, settings, "12361")
    await queued(service, "sk_en", waiting_number)
    with pytest.raises(TimeoutError):  # a free agent of the queue would ring at once
        await zh_phone.next_incoming(3)
    # A Mandarin caller goes straight to the free Mandarin agent.
    zh_number, zh_call = await call(pool, settings, "12360")
    zh_in = await zh_phone.next_incoming(10)
    assert zh_number in (zh_in.request_header("From") or "")
    await zh_in.wait_answered(10)
    # Still waiting: no call for the English caller ever reached the Mandarin agent's phone.
    assert any(w.caller_number == waiting_number for w in service.live.board.callers("sk_en"))

    pool.hangup(busy)  # the English agent is free again: the waiting English caller gets them
    second = await en_phone.next_incoming(15)
    assert waiting_number in (second.request_header("From") or "")
    await second.wait_answered(10)
    for track in (waiting, zh_call):
        pool.hangup(track)
    rec = await ended_record(service, waiting_number)
    assert rec.disposition == "answered" and rec.agent == "2012" and rec.queue == "sk_en"
    assert (await ended_record(service, zh_number)).agent == "2011"
    assert (await ended_record(service, busy_number)).agent == "2012"
    assert zh_phone.incoming.empty(), "the Mandarin-only agent was offered another call"


async def test_paused_agent_is_never_rung_unpause_makes_eligible_logout_removes(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    login_agent: LoginAgent,
) -> None:
    phone = await add_agent(sip, settings, secrets, "2013")
    phones.append(phone)
    phone.auto_answer(after_ms=200)
    await login_agent("topic_agent", "2013", {"complaint": 3, "zh": 2})
    board = await status(service)
    # Added to every queue whose skill the agent has, with the penalty from the level.
    assert members(board, "sk_topic") == {"PJSIP/2013": False}
    assert members(board, "sk_zh").get("PJSIP/2013") is False
    assert board.members["sk_topic"]["PJSIP/2013"].penalty == 2  # level 3 → penalty 2
    assert board.members["sk_zh"]["PJSIP/2013"].penalty == 3  # level 2 → penalty 3

    await service.desk.pause("topic_agent", "lunch")
    board = await status(service)
    assert members(board, "sk_topic") == {"PJSIP/2013": True}
    assert board.members["sk_topic"]["PJSIP/2013"].paused_reason == "lunch"

    number, track = await call(pool, settings, "12362")
    await queued(service, "sk_topic", number)
    # Paused: in the queue with a caller waiting, yet never rung (a free agent rings at once).
    with pytest.raises(TimeoutError):
        await phone.next_incoming(4)

    await service.desk.unpause("topic_agent")
    incoming = await phone.next_incoming(10)
    await incoming.wait_answered(10)
    pool.hangup(track)
    rec = await ended_record(service, number)
    assert rec.agent == "2013" and rec.disposition == "answered"

    await service.desk.logout("topic_agent")
    board = await status(service)
    everywhere = {iface for q in board.members.values() for iface in q}
    assert "PJSIP/2013" not in everywhere
    history = [e.event for e in await asyncio.to_thread(service.agents.events, "topic_agent")]
    assert history == ["login", "pause", "unpause", "logout"]


async def test_overflow_happens_after_the_configured_wait_and_not_before(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    login_agent: LoginAgent,
) -> None:
    phone = await add_agent(sip, settings, secrets, "2014")
    phones.append(phone)
    phone.auto_answer(after_ms=100)
    await login_agent("overflow_agent", "2014", {"overflow": 5})  # only in ovf_b
    number, track = await call(pool, settings, "12363")  # ovf_a: nobody has its skill
    await queued(service, "ovf_a", number)

    def in_b() -> float | None:
        found = [w for w in service.live.board.callers("ovf_b") if w.caller_number == number]
        return found[0].joined_at if found else None

    incoming = await phone.next_incoming(15)
    await incoming.wait_answered(10)
    pool.hangup(track)
    rec = await ended_record(service, number)
    assert rec.queue == "ovf_b" and rec.agent == "2014"
    assert rec.variables.get("HOTLINE_OVERFLOW") == "ovf_a"
    # PBX timestamps: the caller entered ovf_a, left it for ovf_b no sooner than 3 s later.
    assert rec.queue_joined_at is not None and rec.answered_at is not None
    moved = (rec.answered_at - rec.queue_joined_at).total_seconds()
    assert moved >= 3.0, f"overflowed after {moved:.2f} s, configured 3 s"
    assert moved < 3.0 + 5.0, f"overflow late: {moved:.2f} s"
    assert in_b() is None  # gone from the board once answered


async def test_ring_out_auto_pauses_visibly_and_wrap_up_follows_each_call(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    login_agent: LoginAgent,
) -> None:
    phone = await add_agent(sip, settings, secrets, "2016")
    phones.append(phone)
    phone.ring_forever()  # away from the desk: the call rings out (5 s ring timeout)
    await login_agent("wrap_agent", "2016", {"wrap": 4})
    number, track = await call(pool, settings, "12365")
    await phone.next_incoming(10)

    async def state() -> LiveAgent:
        snap = await service.live.snapshot()
        return next(a for a in snap.agents if a.agent_id == "wrap_agent")

    async def auto_paused() -> LiveAgent | None:
        a = await state()
        return a if a.state == "paused" and a.reason == "no answer" else None

    await wait_for(auto_paused, 15, "the agent auto-paused with a visible reason")
    board = await status(service)
    assert board.members["sk_wrap"]["PJSIP/2016"].paused  # Asterisk agrees

    phone.auto_answer(after_ms=100)
    await service.desk.unpause("wrap_agent")
    incoming = await phone.next_incoming(15)
    await incoming.wait_answered(10)
    pool.hangup(track)

    async def in_state(name: str) -> bool:
        return (await state()).state == name

    await wait_for(lambda: in_state("wrap_up"), 10, "wrap-up after the call")
    assert (await status(service)).members["sk_wrap"]["PJSIP/2016"].paused_reason == "wrap-up"
    await wait_for(lambda: in_state("available"), 10, "available again after 2 s of wrap-up")
    assert not (await status(service)).members["sk_wrap"]["PJSIP/2016"].paused
    rec = await ended_record(service, number)
    assert rec.agent == "2016" and rec.disposition == "answered"
    # The wrap-up (2 s in sk_wrap) is on this call, found by the AgentComplete's call_id: AHT.
    assert rec.wrapup_time == pytest.approx(2.0, abs=0.5)


async def test_idle_agents_ring_within_2_s_and_only_a_waiting_caller_hears_the_announcement(
    service: Service,
    pbx: PrivateAsterisk,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    login_agent: LoginAgent,
    tmp_path: Path,
) -> None:
    # ann_ring announces position and wait in Mandarin (~9 s of sound) as the shipped queues do.
    log = tmp_path / "verbose.log"
    await pbx.cli(f"logger add channel {log} verbose(3)")
    await pbx.cli("core set verbose 3")

    def announced() -> bool:
        text = log.read_text(errors="replace") if log.exists() else ""
        return "Playing 'queue-" in text

    try:
        seats = {}
        for n, ext in enumerate(("2023", "2024")):
            seats[ext] = await add_agent(sip, settings, secrets, ext)
            phones.append(seats[ext])
            # Slow to answer: the first caller is still ringing an agent when the second joins.
            seats[ext].auto_answer(after_ms=1500)
            await login_agent(f"ring_agent{n}", ext, {"ringnow": 5})
        # Two callers at once, two idle agents: both ring at once, in parallel.
        numbers = [caller_number(), caller_number()]
        first = []
        for number in numbers:
            track = await pool.call(number, dial_uri(settings, "12371"))
            assert track is not None
            first.append(track)
        for track in first:
            await asyncio.wait_for(asyncio.shield(track.answered), 10)
        for phone in seats.values():
            await (await phone.next_incoming(10)).wait_answered(10)
        assert not announced(), "a caller an idle agent took heard a queue announcement"

        # Both agents busy: the next caller waits, and is told so in Mandarin.
        third_number, third = await call(pool, settings, "12371")
        await queued(service, "ann_ring", third_number)
        await wait_for(announced, 15, "the position announcement to the waiting caller")
        text = await asyncio.to_thread(log.read_text, errors="replace")
        assert "Playing 'queue-youarenext.slin' (language 'zh')" in text
        for track in first:
            pool.hangup(track)
        await wait_for(lambda: third_connected(service, third_number), 30, "the third caller")
        pool.hangup(third)
    finally:
        await pbx.cli("core set verbose 0")
        await pbx.cli(f"logger remove channel {log}")

    # The PBX's own timestamps (timestampevents): queue join (QueueCallerJoin), the agent's
    # phone offered the call (AgentCalled: answered_at - ring_time), the agent's answer.
    for number in numbers:
        rec = await ended_record(service, number)
        assert rec.disposition == "answered" and rec.queue == "ann_ring"
        assert rec.agent in seats
        assert rec.queue_wait is not None and rec.ring_time is not None
        join_to_ring = rec.queue_wait - rec.ring_time
        assert 0 <= join_to_ring <= 2.0, f"an idle agent rang {join_to_ring:.2f} s after the join"
    waited = await ended_record(service, third_number)
    assert waited.disposition == "answered" and waited.agent in seats


def third_connected(service: Service, number: str) -> bool:
    return any(
        r.caller_number == number and r.answered_at is not None
        for r in service.store.find(caller_number=number, limit=1)
    )
