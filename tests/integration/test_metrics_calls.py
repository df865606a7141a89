"""Metrics from real calls with known timings (measured on the phones' own clocks) match the
hand-computed values within 1 s per call; ``/metrics`` (read with prometheus_client's parser)
follows a waiting caller, counts the abandon, and times the calls' screen-pops and stored
records in its histograms."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from prometheus_client import Metric
from prometheus_client.parser import text_string_to_metric_families

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


def base_url(settings: Settings) -> str:
    return f"http://{settings.listen.api_host}:{settings.listen.api_port}"


async def scrape(http: httpx.AsyncClient) -> dict[str, Metric]:
    """``/metrics`` parsed by prometheus_client's parser: family name → family."""
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def sample(families: dict[str, Metric], name: str, **labels: str) -> float:
    """The value of sample ``name`` with exactly ``labels`` (0 when there is none yet)."""
    return next(
        (
            s.value
            for f in families.values()
            for s in f.samples
            if s.name == name and s.labels == labels
        ),
        0.0,
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
    async with httpx.AsyncClient(base_url=base_url(settings), timeout=10) as http:
        pops_before = sample(await scrape(http), "hotline_screenpop_latency_seconds_count")
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
    await service.screenpop.idle()
    # Both answered calls popped on their agent's (desk-managed) seat, each pop timed.
    async with httpx.AsyncClient(base_url=base_url(settings), timeout=10) as http:
        families = await scrape(http)
    assert families["hotline_screenpop_latency_seconds"].type == "histogram"
    pops = sample(families, "hotline_screenpop_latency_seconds_count")
    assert pops >= pops_before + 2
    assert sample(families, "hotline_screenpop_latency_seconds_bucket", le="+Inf") == pops

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


async def test_prometheus_endpoint_reports_live_gauges_counters_and_histograms(
    service: Service, settings: Settings, sip: SipStack, phones: list[Phone]
) -> None:
    stored = "hotline_ami_event_to_stored_seconds_count"
    async with httpx.AsyncClient(base_url=base_url(settings), timeout=10) as http:
        before = await scrape(http)
        number = caller_number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(dial_uri(settings, "12346"))  # q_empty: waits
        await call.wait_answered(10)

        async def waiting() -> dict[str, Metric] | None:
            got = await scrape(http)
            return got if sample(got, "hotline_callers_waiting", queue="q_empty") == 1 else None

        families = await wait_for(waiting, 10, "the waiting caller in /metrics")
        assert families["hotline_calls"].type == "counter"  # hotline_calls_total
        assert families["hotline_agents"].type == "gauge"
        assert {s.labels["state"] for s in families["hotline_agents"].samples} >= {"available"}
        abandoned = sample(families, "hotline_calls_total", disposition="abandoned")
        assert abandoned == service.calls.ended["abandoned"]
        await call.hangup()
        await call.wait_ended(10)
        await ended_record(service, number)
        await service.calls.recorder.drain()  # every update stored is timed by now
        after = await scrape(http)
    assert sample(after, "hotline_callers_waiting", queue="q_empty") == 0
    assert sample(after, "hotline_calls_total", disposition="abandoned") == abandoned + 1
    # The call's updates (started, queued, abandoned, ended) were timed to the database.
    assert after["hotline_ami_event_to_stored_seconds"].type == "histogram"
    assert sample(after, stored) >= sample(before, stored) + 3 > 0
    # The process and runtime collectors of the service's registry.
    assert sample(after, "process_resident_memory_bytes") > 0
    assert "python_info" in after and "python_gc_collections" in after
