"""Active/standby: two real ``hotline run`` processes against the session's Asterisk and one
PostgreSQL database. The active one is SIGKILLed with real calls in progress; the standby takes
over, re-reads live state from Asterisk and carries on. Afterwards every call of the run has
exactly one complete record."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select, text

from hotline.app.pbx import render_input
from hotline.app.settings import ConfigError, Secrets, Settings, parse_settings
from hotline.db.models import CallRow
from hotline.ha.config import HaSettings
from hotline.ha.leadership import Leadership, LeadershipError, LeadershipLost
from telephony.ami.events import AmiEvent
from telephony.asterisk.render import extensions_conf
from telephony.sip import Phone, SipStack
from telephony.sip.pool import PhonePool, Track
from telephony.tracker import CallRecord, CallTracker, Disposition, UpdateKind
from testkit.support import free_port, wait_for
from tests.integration.conftest import Databases
from tests.integration.test_call_records import add_agent, caller_number, dial_uri
from tests.integration.test_service_restart import ADMIN_PW, Proc

FAST = HaSettings(enabled=True, retry_seconds=0.2, check_seconds=0.3, check_timeout=2)


# -- leadership on a real PostgreSQL ----------------------------------------------------------
@pytest.fixture
def ha_url(databases: Databases, tmp_path: Path) -> Iterator[str]:
    url = databases.new("ha", tmp_path, "postgresql")
    yield url
    databases.drop(url)


async def test_one_leader_and_the_standby_takes_over_when_it_goes(ha_url: str) -> None:
    a, b = Leadership(ha_url, FAST, "inst-a"), Leadership(ha_url, FAST, "inst-b")
    try:
        await asyncio.wait_for(a.wait_until_leader(), 10)
        assert a.is_leader
        # B asks and is refused while A holds the lock; it sees who is active.
        waiting = asyncio.create_task(b.wait_until_leader())
        assert await a.holder() == "inst-a"
        await wait_for(lambda: b.attempts >= 3 or None, 5, "B to ask for the lock again")
        assert not waiting.done() and not b.is_leader
        # A confirms it holds the lock, check after check.
        holding = asyncio.create_task(a.hold())
        await wait_for(lambda: a.confirmed >= 3 or None, 5, "A to confirm its lock")
        assert not holding.done()
        holding.cancel()
        # A goes away (its session ends): B becomes the leader.
        await asyncio.to_thread(a.close)
        await asyncio.wait_for(waiting, 10)
        assert b.is_leader and await b.holder() == "inst-b"
    finally:
        a.close()
        b.close()


async def test_active_whose_session_is_terminated_stops(ha_url: str) -> None:
    leader = Leadership(ha_url, FAST, "inst-t")
    try:
        await asyncio.wait_for(leader.wait_until_leader(), 10)
        admin = create_engine(ha_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            # What a database restart or an operator's kill does to the lock's session.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'hotline-ha:inst-t'"
                )
            )
        admin.dispose()
        with pytest.raises(LeadershipLost, match="no longer held"):
            await asyncio.wait_for(leader.hold(), 10)
        assert not leader.is_leader
    finally:
        leader.close()


def test_leadership_needs_postgresql() -> None:
    with pytest.raises(LeadershipError, match="PostgreSQL"):
        Leadership("sqlite:///x.db", FAST)


def test_bad_ha_config_is_refused_with_the_reason(settings: Settings) -> None:
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["ha"] = {"enabled": True}
    data["database"]["url"] = "sqlite:///x.db"
    with pytest.raises(ConfigError, match=r"ha\.enabled: active/standby needs a PostgreSQL"):
        parse_settings(data)
    data["database"]["url"] = "postgresql+psycopg://h@127.0.0.1:5432/h"
    with pytest.raises(ConfigError, match=r"needs pbx\.mode external"):
        parse_settings(data)
    data["pbx"]["mode"] = "external"
    parse_settings(data)
    data["ha"]["agi_addresses"] = ["10.0.0.1:4573", "svc-b"]
    with pytest.raises(ConfigError, match=r"ha.agi_addresses: .*must be host:port"):
        parse_settings(data)


def test_dialplan_tries_each_instances_fastagi(settings: Settings, secrets: Secrets) -> None:
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["ha"] = {"agi_addresses": ["svc-a:4573", "svc-b:4573"]}
    two = parse_settings(data)
    plan = extensions_conf(two.pbx, render_input(two, secrets, Path("/tmp/hotline-ha-render")))
    first = plan.index(f"AGI(agi://svc-a:4573/ivr/${{HOTLINE_MENU}},{two.pbx.name})")
    second = plan.index(f"AGI(agi://svc-b:4573/ivr/${{HOTLINE_MENU}},{two.pbx.name})")
    # The second is tried only when the first refused (FAILURE) before the IVR said anything.
    between = plan[first:second]
    assert '"${AGISTATUS}" != "FAILURE" | "${HOTLINE_IVR}" != ""]?agidone' in between
    assert "n(agidone)" in plan[second:]


# -- two real service processes ---------------------------------------------------------------
@pytest.fixture
async def pool() -> AsyncIterator[PhonePool]:
    """Callers in SIP worker processes (one process carries 4 call legs)."""
    p = PhonePool(max_workers=2)
    yield p
    await p.close()


@dataclass
class Instance:
    proc: Proc
    http: httpx.AsyncClient


@pytest.fixture
async def pair(
    pbx: object, settings: Settings, secrets: Secrets, ha_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Instance, Instance]]:
    env = {
        **os.environ,
        "HOTLINE_AMI_SECRET": secrets.ami_secret,
        "HOTLINE_API_SECRET": "standby-test-signing-key-0123456789",
        "HOTLINE_ADMIN_PASSWORD": ADMIN_PW,
    }
    instances = []
    async with contextlib.AsyncExitStack() as stack:
        for name in ("a", "b"):
            data: dict[str, Any] = settings.model_dump(mode="json")
            data["pbx"]["mode"] = "external"
            data["database"]["url"] = ha_url
            data["asr"]["enabled"] = False  # no Vosk workers: this test is about the records
            data["ha"] = {**FAST.model_dump(), "instance": f"inst-{name}"}
            api_port = free_port()
            data["listen"] = {
                "api_host": "127.0.0.1",
                "api_port": api_port,
                "agi_host": "127.0.0.1",
                "agi_port": free_port(),
            }
            config = tmp_path / f"{name}.yaml"
            config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10)
            )
            instances.append(Instance(Proc(config, env, tmp_path / f"{name}.log"), http))
        try:
            yield instances[0], instances[1]
        finally:
            for inst in instances:
                if inst.proc.proc is not None and inst.proc.proc.returncode is None:
                    inst.proc.proc.send_signal(signal.SIGCONT)  # a stopped one cannot exit
                await inst.proc.stop()


async def health(inst: Instance, role: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        p = inst.proc.proc
        assert p is not None and p.returncode is None, inst.proc.log.read_text()
        try:
            r = await inst.http.get("/healthz")
        except httpx.TransportError:
            return None
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body.get("role") == role else None

    return await wait_for(probe, 60, f"{inst.proc.config.stem} to be {role}")


async def admin_headers(inst: Instance) -> dict[str, str]:
    r = await inst.http.post("/api/auth/token", json={"agent_id": "admin", "password": ADMIN_PW})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_standby_takes_over_live_calls_and_every_call_has_one_record(
    pair: tuple[Instance, Instance],
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    pool: PhonePool,
    ha_url: str,
) -> None:
    a, b = pair
    await a.proc.start()
    assert (await health(a, "active"))["instance"] == "inst-a"
    await b.proc.start()
    assert (await health(b, "standby"))["instance"] == "inst-b"
    assert (await b.http.get("/readyz")).status_code == 503  # no traffic to the standby
    assert (await a.http.get("/readyz")).status_code == 200
    # The standby holds no PBX connection and serves no API but its health.
    assert (await b.http.post("/api/auth/token", json={})).status_code == 404

    admin = await admin_headers(a)
    seats: dict[str, Phone] = {}
    for agent_id, ext in (("h1", "2015"), ("h2", "2016")):
        body = {"agent_id": agent_id, "name": f"HA {ext}", "extension": ext, "skills": {"kill": 3}}
        assert (await a.http.put(f"/api/agents/{agent_id}", headers=admin, json=body)).is_success
        seat = await add_agent(sip, settings, secrets, ext)
        phones.append(seat)
        seat.auto_answer(after_ms=100)
        seats[ext] = seat
        r = await a.http.post(f"/api/agents/{agent_id}/login", headers=admin, json={})
        assert r.status_code == 200, r.text

    numbers = [caller_number() for _ in range(5)]
    calls: dict[str, Track] = {}

    async def place(number: str) -> None:
        track = await pool.call(number, dial_uri(settings, "12364"))
        assert track is not None
        await asyncio.wait_for(asyncio.shield(track.answered), 10)  # the PBX answers, queues
        calls[number] = track

    async def hang_up(number: str) -> None:
        pool.hangup(calls[number])
        await asyncio.wait_for(asyncio.shield(calls[number].ended), 10)

    # c1 and c2 talk to the two agents; c3 and c4 wait in the queue.
    for number in numbers[:2]:
        await place(number)
    for ext in ("2015", "2016"):
        await (await seats[ext].next_incoming(10)).wait_answered(10)
    for number in numbers[2:4]:
        await place(number)
    engine = create_engine(ha_url)

    def rows(number: str) -> list[CallRow]:
        with engine.connect() as conn:
            return list(conn.execute(select(CallRow).where(CallRow.caller_number == number)))  # type: ignore[arg-type]

    def _connected_number(number: str) -> bool | None:
        return _connected(rows(number))

    def queued_all() -> bool | None:
        return all(r and r[0].queue_joined_at is not None for r in map(rows, numbers[:4])) or None

    await wait_for(queued_all, 10, "the active to store the four calls in progress")

    # The standby is frozen (a slow machine) while the active dies: calls change meanwhile.
    assert b.proc.proc is not None
    b.proc.proc.send_signal(signal.SIGSTOP)
    await a.proc.kill()
    first_free = rows(numbers[0])[0].agent  # c1's agent, as the active stored it
    assert first_free in seats
    await hang_up(numbers[0])  # c1 ends while no instance is watching
    # c3 is connected to the agent c1 freed, unseen as well.
    await (await seats[first_free].next_incoming(10)).wait_answered(10)
    b.proc.proc.send_signal(signal.SIGCONT)

    taken = await health(b, "active")
    assert taken["instance"] == "inst-b"
    assert (await b.http.get("/readyz")).status_code == 200
    # After the takeover: c2 ends, which frees its agent for c4, seen live by the new active.
    await hang_up(numbers[1])
    await place(numbers[4])
    for number in numbers[2:4]:
        await wait_for(partial(_connected_number, number), 20, f"{number} to be answered")
    await hang_up(numbers[2])  # frees an agent for c5
    await wait_for(lambda: _connected(rows(numbers[4])), 20, "c5 to be answered")
    for number in numbers[3:]:
        await hang_up(number)

    def complete() -> list[CallRow] | None:
        found = [rows(n) for n in numbers]
        if any(len(r) != 1 or r[0].ended_at is None for r in found):
            return None
        return [r[0] for r in found]

    records = await wait_for(complete, 20, "one ended record per call")
    for number, rec in zip(numbers, records, strict=True):
        assert rec.disposition == "answered", (number, rec.disposition)
        assert rec.queue == "sk_kill" and rec.agent in ("2015", "2016"), rec.agent
        assert rec.answered_at is not None and rec.ended_at is not None
        assert rec.ended_at >= rec.answered_at
        assert rec.talk_time is not None and rec.talk_time > 0
        assert rec.queue_wait is not None and rec.queue_wait >= 0
    # c1 ended unseen: closed by the takeover, marked as rebuilt; c3 was connected unseen.
    assert records[0].resynced
    assert records[2].agent == first_free and records[2].resynced
    with engine.connect() as conn:
        open_calls = conn.execute(select(CallRow.call_id).where(CallRow.ended_at.is_(None)))
        assert list(open_calls) == []
    engine.dispose()

    admin = await admin_headers(b)
    for agent_id in ("h1", "h2"):
        assert (await b.http.post(f"/api/agents/{agent_id}/logout", headers=admin)).is_success


def _connected(found: list[CallRow]) -> bool | None:
    return bool(found and found[0].answered_at is not None) or None


# -- taking over stored calls (the tracker, no I/O) --------------------------------------------
def _channel(uid: str, call_id: str, duration: str, **more: str) -> AmiEvent:
    headers = {"Uniqueid": uid, "Linkedid": call_id, "Duration": duration, **more}
    return AmiEvent("CoreShowChannel", headers, 0.0)


def test_stored_calls_go_on_if_live_and_close_if_they_ended_unseen() -> None:
    tracker = CallTracker()
    waiting = CallRecord(
        call_id="100.1",
        caller_number="13800000001",
        started_at=1000.0,
        queue="q",
        queue_joined_at=1002.0,
        language="en",
        request_kind="complaint",
        ivr="done",
        ivr_path=["1", "2"],
    )
    talking = CallRecord(
        call_id="100.2",
        caller_number="13800000002",
        started_at=1000.0,
        queue="q",
        queue_joined_at=1001.0,
        answered_at=1005.0,
        agent="2001",
        queue_wait=4.0,
    )
    gone = CallRecord(
        call_id="100.3",
        caller_number="13800000003",
        started_at=1000.0,
        queue="q",
        queue_joined_at=1001.0,
    )
    done = CallRecord(call_id="100.4", started_at=900.0, ended_at=950.0)
    assert tracker.restore([waiting, talking, gone, done]) == 3
    assert tracker.restore([waiting]) == 0  # known already: left alone

    live = [
        _channel("100.1", "100.1", "00:00:30", Application="Queue", ChannelState="6"),
        _channel("100.2", "100.2", "00:00:30", Application="Queue", BridgeId="b1"),
        _channel("100.5", "100.2", "00:00:25", Application="AppQueue", BridgeId="b1"),
    ]
    result = tracker.resync(live, asked_at=1030.0, now=1031.0)
    ended = [u.record for u in result.updates if u.kind is UpdateKind.ENDED]
    # Only the call the PBX no longer has is closed: the caller hung up in the queue, unseen.
    assert [r.call_id for r in ended] == ["100.3"]
    assert ended[0].disposition is Disposition.ABANDONED and ended[0].resynced
    assert ended[0].ended_at == 1031.0 and ended[0].queue_wait == 30.0
    assert result.gaps == []  # the stored records already say queued and connected

    # The waiting caller goes on with what the IVR found out before the takeover.
    hangup = AmiEvent("Hangup", {"Uniqueid": "100.1", "Linkedid": "100.1"}, 1040.0)
    [rec] = [u.record for u in tracker.feed(hangup) if u.kind is UpdateKind.ENDED]
    assert rec.disposition is Disposition.ABANDONED and rec.queue_wait == 38.0
    assert (rec.language, rec.request_kind, rec.ivr_path) == ("en", "complaint", ["1", "2"])
    # The agent's leg was recognised in the caller's bridge: its hang-up ends the talk.
    updates = tracker.feed(
        AmiEvent("Hangup", {"Uniqueid": "100.5", "Linkedid": "100.2"}, 1050.0)
    ) + tracker.feed(AmiEvent("Hangup", {"Uniqueid": "100.2", "Linkedid": "100.2"}, 1050.5))
    [rec] = [u.record for u in updates if u.kind is UpdateKind.ENDED]
    assert rec.disposition is Disposition.ANSWERED and rec.agent == "2001"
    assert rec.ended_by == "agent" and rec.talk_time == 45.0 and rec.queue_wait == 4.0
