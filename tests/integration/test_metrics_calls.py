"""Metrics from real calls with known timings (measured on the phones' own clocks) match the
hand-computed values within 1 s per call."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from telephony.sip import Phone, SipStack
from testkit.support import supervisor_session, wait_for
from tests.integration.test_call_records import (
    add_agent,
    add_caller,
    caller_number,
    dial_uri,
    ended_record,
)


async def test_metrics_match_hand_computed_values(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    agents = {"m1": "2011", "m2": "2012"}
    for agent_id, ext in agents.items():
        await asyncio.to_thread(
            partial(
                service.agents.upsert,
                agent_id,
                name=agent_id,
                extension=ext,
                roles=["agent"],
                skills={"metrics": 5},
            )
        )
    phone = {a: await add_agent(sip, settings, secrets, ext) for a, ext in agents.items()}
    phones += phone.values()
    for agent_id, ext in agents.items():
        await service.desk.login(agent_id, ext)
    # m2 sits this one out, so the first call goes to m1.
    await service.desk.pause("m2", "briefing")

    async def answered_call(agent: str, ring_ms: int) -> tuple[str, float, float]:
        """A call answered by ``agent`` after ``ring_ms``; the caller talks 3 s then hangs up.
        Returns (number, wait, talk) as the phones measured them."""
        phone[agent].auto_answer(after_ms=ring_ms)
        number = caller_number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(dial_uri(settings, "12368"))
        up = await call.wait_answered(10)
        incoming = await phone[agent].next_incoming(10)
        agent_up = await incoming.wait_answered(10)
        await call.wait_media(5)
        await call.play(sounds["talk3"])
        hung = time.time()
        await call.hangup()
        await call.wait_ended(10)
        return number, agent_up - up, hung - agent_up

    a = await answered_call("m1", 2000)
    await service.desk.unpause("m2")
    await service.desk.pause("m1", "break")
    b = await answered_call("m2", 1000)
    await service.desk.pause("m2", "break")

    async def abandoned_call(patience: float) -> tuple[str, float]:
        number = caller_number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(dial_uri(settings, "12368"))
        up = await call.wait_answered(10)
        with pytest.raises(TimeoutError):  # nobody free: the caller's patience runs out
            await call.wait_ended(patience)
        gone = time.time()
        await call.hangup()
        await call.wait_ended(10)
        return number, gone - up

    c, d = await asyncio.gather(abandoned_call(7.0), abandoned_call(2.0))
    for agent_id in agents:
        await service.desk.logout(agent_id)
    for number in (a[0], b[0], c[0], d[0]):
        await ended_record(service, number)

    until = datetime.now(UTC) + timedelta(seconds=1)
    # Through the API, as a supervisor would ask.
    async with supervisor_session(service, settings, "msup", "metrics-pw-1") as (http, headers):
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("since", since.isoformat()),
            ("until", until.isoformat()),
            ("group", "queue"),
            ("group", "agent"),
        ]
        r = await http.get("/api/metrics", params=params, headers=headers)
        assert r.status_code == 200, r.text
        bad = await http.get("/api/metrics", params=[*params, ("group", "colour")], headers=headers)
        assert bad.status_code == 422 and bad.json()["error"] == "metrics.bad_group"
    got = r.json()
    q = got["groups"]["queue"]["m_q"]
    # Hand-computed from the phones' clocks.
    waits, talks = [a[1], b[1]], [a[2], b[2]]
    assert (q["offered"], q["answered"], q["abandoned"], q["short_abandons"]) == (4, 2, 2, 1)
    assert q["asa"] == pytest.approx(sum(waits) / 2, abs=1.0)
    assert q["aht"] == pytest.approx(sum(talks) / 2, abs=1.0)  # no wrap-up in m_q
    assert q["talk_hours"] * 3600 == pytest.approx(sum(talks), abs=2.0)
    assert q["service_level"] == pytest.approx(2 / 3, abs=1e-3)  # both within 20 s; 4 - 1 short
    assert q["abandonment_rate"] == pytest.approx(0.5)
    per_agent = got["groups"]["agent"]
    assert per_agent["2011"]["answered"] == 1 and per_agent["2012"]["answered"] == 1
    assert per_agent["2011"]["asa"] == pytest.approx(a[1], abs=1.0)
    # Occupancy: talk / (logged-in - paused) per agent, from the state history.
    occ = got["occupancy"]
    for agent_id, (_, _, talk) in (("m1", a), ("m2", b)):
        o = occ[agent_id]
        assert o["talk_s"] == pytest.approx(talk, abs=1.0), o
        assert o["occupancy"] == pytest.approx(
            o["talk_s"] / (o["logged_in_s"] - o["paused_s"]), rel=0.03
        ), o  # the reported seconds are rounded to 0.1 s
        assert 0 < o["occupancy"] <= 1


async def test_prometheus_endpoint_reports_live_gauges_and_counters(
    service: Service, settings: Settings, sip: SipStack, phones: list[Phone]
) -> None:
    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, "12346"))  # q_empty: waits
    await call.wait_answered(10)
    base = f"http://{settings.listen.api_host}:{settings.listen.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def waiting() -> str | None:
            text = (await http.get("/metrics")).text
            return text if 'hotline_callers_waiting{queue="q_empty"} 1' in text else None

        text = await wait_for(waiting, 10, "the waiting caller in /metrics")
        assert "# TYPE hotline_calls_total counter" in text
        assert 'hotline_agents{state="available"}' in text
        before = service.calls.ended["abandoned"]
        await call.hangup()
        await call.wait_ended(10)
        await ended_record(service, number)
        text = (await http.get("/metrics")).text
    assert 'hotline_callers_waiting{queue="q_empty"} 0' in text
    assert f'hotline_calls_total{{disposition="abandoned"}} {before + 1}' in text
