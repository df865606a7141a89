"""Survey callbacks for operators: the API (roles, 404/409/422 with stable ids, hold, resume
and cancel, the dialer switch, opt-outs, the satisfaction figures by every group checked
against hand counts), the supervisors' alerts, the report's satisfaction section, the live
snapshot and the wallboard's panels, and the ``hotline surveys`` command line.

The API runs in-process (httpx's ASGI transport) on an app built around a store of each kind
(SQLite and PostgreSQL), without the PBX: surveys are made with ``SurveyStore.create`` and
driven through ``claim``/``finish`` as the dialer would, so every result is known. Its "now"
(the live view's "today", a resumed survey's due time, today's report) is a frozen clock:
``fixed_now``, or each instant of ``frozen_now`` for "today" on the live snapshot.

One module on purpose: the scenarios share one set of fixtures and helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from hotline.agents.store import AgentStore
from hotline.app.settings import Settings
from hotline.app.web import create_app
from hotline.calls.store import CallStore
from hotline.core.alerts import Alert, SupervisorAlerts
from hotline.core.auth import Principal, SigningKey, TokenSigner, hash_password
from hotline.db.engine import make_engine, migrate
from hotline.metrics.render import to_csv, to_html
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.supervision.live import LiveView
from hotline.surveys.admin import mask
from hotline.surveys.policy import COMPLETED, UNREACHABLE, Next
from hotline.surveys.store import Candidate, Survey, SurveyStore
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from hotline.web.server import WebServer
from telephony.queue_state import QueueBoard
from telephony.tracker import CallTracker
from testkit.clock import Clock
from testkit.support import NewDbUrl, free_port, wait_for
from tests.integration.test_agents_cli import config_for
from tests.integration.test_config import run_cli
from tests.integration.test_wallboard import RESULTS

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the settings' timezone
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)
LATER = datetime(2030, 1, 2, 1, 30, tzinfo=UTC)  # due far ahead: never claimed by accident
DIGIT = {"satisfied": "1", "basically_satisfied": "2", "dissatisfied": "3"}
SIGNER = TokenSigner([SigningKey("test", b"survey-api-test-signing-key-0123456789")])
SUP = {"Authorization": f"Bearer {SIGNER.issue(Principal('sup1', ('supervisor',)))}"}
AGENT = {"Authorization": f"Bearer {SIGNER.issue(Principal('ag1', ('agent',)))}"}
_ids = itertools.count(1000)


# -- making surveys ------------------------------------------------------------------------------
def candidate(
    *,
    ticket_id: int | None = None,
    number: str = "13912345678",
    department: str | None = None,
    category: str | None = None,
    agent: str | None = None,
    kind: str | None = None,
) -> Candidate:
    tid = ticket_id if ticket_id is not None else next(_ids)
    return Candidate(tid, None, number, "zh", agent, department, category, kind, DAY)


def scheduled(store: SurveyStore, due: datetime = LATER, **case: Any) -> Survey:
    survey = store.create(candidate(**case), due_at=due)
    assert survey is not None
    return survey


def dialled(
    store: SurveyStore, nxt: Next, ended: datetime, result: str | None = None, **case: Any
) -> Survey:
    """A survey claimed and finished as the dialer would: ``nxt`` decides what it becomes."""
    due = ended - timedelta(minutes=1)
    made = scheduled(store, due, **case)
    [claim] = store.claim(due, 1)
    assert claim.survey.id == made.id
    digits = DIGIT.get(result or "", "")
    outcome = "answered" if result else "busy"
    assert store.finish(claim, nxt, outcome=outcome, ended_at=ended, digits=digits, result=result)
    survey = store.get(made.id)
    assert survey is not None
    return survey


def completed(store: SurveyStore, result: str, ended: datetime, **case: Any) -> Survey:
    return dialled(store, Next(COMPLETED), ended, result, **case)


# result, department, category, agent, kind, finished (local time)
KNOWN = [
    ("satisfied", "water", "water_supply", "1001", "complaint", DAY.replace(hour=9)),
    ("satisfied", "water", "noise", "1002", "complaint", DAY.replace(hour=10)),
    ("satisfied", "roads", "water_supply", "1002", "complaint", DAY.replace(hour=11)),
    ("basically_satisfied", "roads", "noise", "1001", "consultation", DAY.replace(hour=15)),
    # 00:30 on the 21st in Shanghai is still the 20th in UTC: days are local days.
    ("dissatisfied", "water", "noise", "1002", "consultation", DAY + timedelta(hours=24.5)),
]


def seed_known(store: SurveyStore) -> None:
    """The five results above, and surveys that must not count: one finished before the
    period, one unreachable in it, one still scheduled."""
    for result, department, category, agent, kind, ended in KNOWN:
        completed(
            store, result, ended, department=department, category=category, agent=agent, kind=kind
        )
    completed(store, "satisfied", DAY - timedelta(minutes=30), department="water")
    dialled(store, Next(UNREACHABLE, reason="busy"), DAY.replace(hour=12), department="water")
    scheduled(store, department="water")


def figures(n: int, sat: int, basic: int, dis: int) -> dict[str, Any]:
    """A stats row as counted by hand: rate (sat + basic) / n, share sat / n."""
    return {
        "surveyed": n,
        "satisfied": sat,
        "basically_satisfied": basic,
        "dissatisfied": dis,
        "satisfaction_rate": round((sat + basic) / n, 4),
        "satisfied_share": round(sat / n, 4),
    }


EXPECTED = {
    "total": {"total": figures(5, 3, 1, 1)},  # rate 0.8, share 0.6
    "department": {"roads": figures(2, 1, 1, 0), "water": figures(3, 2, 0, 1)},
    "category": {"noise": figures(3, 1, 1, 1), "water_supply": figures(2, 2, 0, 0)},
    "agent": {"1001": figures(2, 1, 1, 0), "1002": figures(3, 2, 0, 1)},
    "kind": {"complaint": figures(3, 3, 0, 0), "consultation": figures(2, 0, 1, 1)},
    "day": {"2026-11-20": figures(4, 3, 1, 0), "2026-11-21": figures(1, 0, 0, 1)},
    "month": {"2026-11": figures(5, 3, 1, 1)},
}


# -- the app, without the PBX ---------------------------------------------------------------------
def web_app(
    settings: Settings,
    engine: Engine,
    surveys: SurveyStore | None,
    alerts: SupervisorAlerts,
    clock: Clock,
) -> FastAPI:
    agents = AgentStore(engine)
    live = LiveView(
        settings.live_config(),
        QueueBoard(),
        agents,
        CallTracker(),
        CallStore(engine),
        surveys=surveys,
        alerts=alerts,
        clock=clock,
    )
    metrics = MetricsService(
        settings.metrics_config(), MetricsStore(engine), TicketStore(engine), surveys=surveys
    )
    tickets = TicketService(
        settings.tickets,
        TicketStore(engine),
        clock,
        tz=settings.tz,
        languages=settings.ivr.languages,
    )

    # No desk, knowledge base, screen-pop or caller look-ups: none of these routes asks.
    return create_app(
        settings,
        SIGNER,
        agents,
        live,
        metrics,
        tickets,
        surveys,
        alerts,
    )


@dataclass
class Api:
    http: httpx.AsyncClient
    store: SurveyStore
    alerts: SupervisorAlerts
    engine: Engine
    clock: Clock  # the app's "now"


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as http:
        yield http


@pytest.fixture
async def api(engine: Engine, settings: Settings, fixed_now: datetime) -> AsyncIterator[Api]:
    store, alerts, clock = SurveyStore(engine), SupervisorAlerts(), Clock(fixed_now)
    async with client(web_app(settings, engine, store, alerts, clock)) as http:
        yield Api(http, store, alerts, engine, clock)


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]


# -- the figures ---------------------------------------------------------------------------------
async def test_stats_by_every_group_match_hand_counts(api: Api) -> None:
    seed_known(api.store)
    for group, expected in EXPECTED.items():
        params = {"since": "2026-11-20T00:00", "until": "2026-11-22T00:00", "group": group}
        r = await api.http.get("/api/surveys/stats", params=params, headers=SUP)
        assert r.status_code == 200, r.text
        body = r.json()
        got = {row.pop("key"): row for row in body["rows"]}
        assert got == expected, group
        assert body["target"] == {"low": 0.95, "high": 0.976}
        assert body["timezone"] == "Asia/Shanghai"
    # Naive times are Shanghai time: the 00:30 dissatisfied call falls on the 21st.
    params = {"since": "2026-11-20T00:00", "until": "2026-11-21T00:00"}
    r = await api.http.get("/api/surveys/stats", params=params, headers=SUP)
    assert r.json()["rows"] == [{"key": "total", **figures(4, 3, 1, 0)}]
    # An explicit zone is honoured: the same instant range written in UTC.
    params = {"since": "2026-11-19T16:00:00Z", "until": "2026-11-20T16:00:00Z"}
    r = await api.http.get("/api/surveys/stats", params=params, headers=SUP)
    assert r.json()["rows"][0]["surveyed"] == 4
    # Nothing completed in a range: no rows (not a row of zeros with a rate of 0).
    params = {"since": "2026-12-01T00:00", "until": "2026-12-02T00:00", "group": "agent"}
    assert (await api.http.get("/api/surveys/stats", params=params, headers=SUP)).json()[
        "rows"
    ] == []


async def test_stats_refuse_bad_queries(api: Api) -> None:
    stats = "/api/surveys/stats"
    ok = {"since": "2026-11-20T00:00", "until": "2026-11-21T00:00"}
    bad = [
        ({**ok, "group": "hour"}, "survey.bad_group"),
        ({**ok, "until": "2026-11-20T00:00"}, "survey.bad_range"),
        ({**ok, "until": "2026-11-19T00:00"}, "survey.bad_range"),
        ({**ok, "until": "2027-12-26T00:00"}, "survey.range_too_long"),  # 401 days
    ]
    for params, code in bad:
        assert error(await api.http.get(stats, params=params, headers=SUP)) == (422, code)
    assert (
        await api.http.get(stats, params={**ok, "until": "2027-12-25T00:00"}, headers=SUP)
    ).status_code == 200
    assert (
        await api.http.get(stats, params={"since": "x", "until": "y"}, headers=SUP)
    ).status_code == 422
    assert (await api.http.get(stats, params=ok, headers=AGENT)).status_code == 403
    assert (await api.http.get(stats, params=ok)).status_code == 401


async def test_report_has_a_satisfaction_section(
    engine: Engine, settings: Settings, api: Api
) -> None:
    seed_known(api.store)
    service = MetricsService(settings.metrics_config(), MetricsStore(engine), surveys=api.store)
    data = service.report(DAY, DAY + timedelta(days=2))
    sat = data["satisfaction"]
    assert sat["total"] == {"key": "total", **EXPECTED["total"]["total"]}
    for group in ("department", "category", "agent"):
        assert {
            r["key"]: {k: v for k, v in r.items() if k != "key"} for r in sat["groups"][group]
        } == EXPECTED[group]
    rows = list(csv.reader(to_csv(data).splitlines()))
    head = rows.index(
        [
            "satisfaction",
            "key",
            "surveyed",
            "satisfied",
            "basically_satisfied",
            "dissatisfied",
            "satisfaction_rate",
            "satisfied_share",
            "target_low",
            "target_high",
        ]
    )
    assert rows[head + 1] == ["total", "total", "5", "3", "1", "1", "0.8", "0.6", "0.95", "0.976"]
    assert ["department", "water", "3", "2", "0", "1", "0.6667", "0.6667"] in rows
    assert ["agent", "1001", "2", "1", "1", "0", "1.0", "0.5"] in rows
    page = to_html("weekly", data, SHANGHAI, "en")
    assert "Citizen satisfaction" in page
    # The rate with the published target beside it, marked as below it.
    assert '<b>80.0%</b> <span class="target below">target 95\u201397.6 %</span>' in page
    assert "<b>60.0%</b>" in page  # satisfied share
    for group in ("department", "category", "agent"):
        assert f"<h3>Satisfaction by {group}</h3>" in page
    assert "<td>water_supply</td><td>2</td><td>2</td><td>0</td><td>0</td><td>100.0%</td>" in page
    # Without surveys (disabled) the report has no such section.
    plain = MetricsService(settings.metrics_config(), MetricsStore(engine)).report(
        DAY, DAY + timedelta(days=1)
    )
    assert "satisfaction" not in plain
    assert "Citizen satisfaction" not in to_html("daily", plain, SHANGHAI, "en")
    # The API's report carries it too: the 20th alone has four (3 satisfied, 1 basically).
    params = {"day": "2026-11-20", "format": "csv"}
    r = await api.http.get("/api/reports/daily", params=params, headers=SUP)
    assert "total,total,4,3,1,0,1.0,0.75,0.95,0.976" in r.text


# -- reading -------------------------------------------------------------------------------------
async def test_list_and_read_surveys(api: Api) -> None:
    tickets = TicketStore(api.engine)
    ticket = tickets.insert({"status": "open", "caller_number": "13912345678"}, actor="a", at=DAY)
    bare = tickets.insert({"status": "open", "caller_number": "13900000000"}, actor="a", at=DAY)
    first = dialled(
        api.store,
        Next(UNREACHABLE, reason="busy at the last of 1"),
        DAY.replace(hour=10),
        ticket_id=ticket.id,
    )
    second = completed(api.store, "dissatisfied", DAY.replace(hour=11))
    third = scheduled(api.store, number="+8613800001111")

    r = await api.http.get("/api/surveys", headers=SUP)
    assert r.status_code == 200
    page = r.json()
    assert [s["id"] for s in page["items"]] == [third.id, second.id, first.id]  # newest first
    assert page["total"] == 3
    assert page["items"][0]["number"] == "+8613800001111"
    assert page["items"][0]["next_at"] == "2030-01-02T09:30:00+08:00"  # local time
    r = await api.http.get("/api/surveys", params={"status": "completed"}, headers=SUP)
    assert [s["id"] for s in r.json()["items"]] == [second.id] and r.json()["total"] == 1
    r = await api.http.get("/api/surveys", params={"limit": 1, "offset": 1}, headers=SUP)
    assert [s["id"] for s in r.json()["items"]] == [second.id] and r.json()["total"] == 3
    assert error(await api.http.get("/api/surveys?status=lost", headers=SUP)) == (
        422,
        "survey.bad_status",
    )
    # Many citizens' numbers: supervisors only.
    assert (await api.http.get("/api/surveys", headers=AGENT)).status_code == 403
    assert (await api.http.get("/api/surveys")).status_code == 401

    # One survey with its attempts: any staff member.
    r = await api.http.get(f"/api/surveys/{second.id}", headers=AGENT)
    assert r.status_code == 200
    got = r.json()
    assert (got["status"], got["result"], got["attempts"]) == ("completed", "dissatisfied", 1)
    assert got["finished_at"] == "2026-11-20T11:00:00+08:00"
    [attempt] = got["attempt_log"]
    assert (attempt["n"], attempt["outcome"], attempt["digits"]) == (1, "answered", "3")
    assert attempt["result"] == "dissatisfied" and not got["has_comment"]
    assert "comment_path" not in got  # a server path is no client's business
    assert error(await api.http.get("/api/surveys/999999", headers=AGENT)) == (
        404,
        "survey.not_found",
    )
    assert (await api.http.get(f"/api/surveys/{second.id}")).status_code == 401

    # A ticket's survey; a ticket without one; no such ticket.
    r = await api.http.get(f"/api/tickets/{ticket.id}/survey", headers=AGENT)
    assert r.json()["id"] == first.id and r.json()["status"] == "unreachable"
    assert r.json()["attempt_log"][0]["outcome"] == "busy"
    assert r.json()["reason"] == "busy at the last of 1"
    assert error(await api.http.get(f"/api/tickets/{bare.id}/survey", headers=AGENT)) == (
        404,
        "ticket.no_survey",
    )
    assert error(await api.http.get("/api/tickets/999999/survey", headers=AGENT)) == (
        404,
        "ticket.not_found",
    )


# -- operating -----------------------------------------------------------------------------------
async def test_pause_resume_and_cancel(api: Api) -> None:
    done = completed(api.store, "satisfied", DAY.replace(hour=9))
    survey = scheduled(api.store)
    base = f"/api/surveys/{survey.id}"

    r = await api.http.post(f"{base}/pause", headers=SUP)
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert api.store.claim(LATER + timedelta(days=1), 10) == []  # a held survey is not dialled
    assert error(await api.http.post(f"{base}/pause", headers=SUP)) == (
        409,
        "survey.not_pausable",
    )

    r = await api.http.post(f"{base}/resume", headers=SUP)
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    # Due now, no longer in 2030: the scheduler moves it into the window when it dials.
    assert datetime.fromisoformat(r.json()["next_at"]) == api.clock()
    assert error(await api.http.post(f"{base}/resume", headers=SUP)) == (
        409,
        "survey.not_resumable",
    )

    r = await api.http.post(f"{base}/cancel", json={"reason": "citizen moved away"}, headers=SUP)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["reason"]) == (
        "cancelled",
        "cancelled by sup1: citizen moved away",
    )
    assert r.json()["finished_at"] is not None and r.json()["next_at"] is None
    for action, code in (
        ("cancel", "not_cancellable"),
        ("pause", "not_pausable"),
        ("resume", "not_resumable"),
    ):
        r = await api.http.post(f"{base}/{action}", headers=SUP)
        assert error(r) == (409, f"survey.{code}"), action
        assert "cancelled" in r.json()["message"]
    # A finished survey stays finished; an unknown one is 404 for every action.
    assert error(await api.http.post(f"/api/surveys/{done.id}/cancel", headers=SUP)) == (
        409,
        "survey.not_cancellable",
    )
    for action in ("pause", "resume", "cancel"):
        r = await api.http.post(f"/api/surveys/999999/{action}", headers=SUP)
        assert error(r) == (404, "survey.not_found")
        assert (await api.http.post(f"{base}/{action}", headers=AGENT)).status_code == 403
        assert (await api.http.post(f"{base}/{action}")).status_code == 401
    assert (
        await api.http.post(f"{base}/cancel", json={"colour": "red"}, headers=SUP)
    ).status_code == 422
    # Cancelling without a body: the reason still says who.
    other = scheduled(api.store)
    r = await api.http.post(f"/api/surveys/{other.id}/cancel", headers=SUP)
    assert r.json()["reason"] == "cancelled by sup1"


async def test_an_interrupted_survey_is_dialled_again_only_when_resumed(api: Api) -> None:
    survey = scheduled(api.store, due=DAY)
    [claim] = api.store.claim(DAY, 1)
    assert api.store.interrupt_calling(DAY + timedelta(minutes=1)) == [survey.id]
    assert api.store.claim(LATER, 10) == []
    r = await api.http.post(f"/api/surveys/{survey.id}/resume", headers=SUP)
    assert r.json()["status"] == "scheduled" and r.json()["finished_at"] is None
    assert r.json()["attempt_log"][0]["outcome"] == "interrupted"
    [again] = api.store.claim(api.clock(), 1)  # resumed: due now
    assert again.survey.id == survey.id and again.n == claim.n + 1


async def test_the_dialer_switch(api: Api) -> None:
    scheduled(api.store)
    scheduled(api.store)
    completed(api.store, "satisfied", DAY)
    r = await api.http.get("/api/surveys/dialer", headers=SUP)
    assert r.json()["paused"] is False
    counts = r.json()["counts"]
    assert (counts["scheduled"], counts["completed"], counts["calling"]) == (2, 1, 0)
    r = await api.http.post("/api/surveys/pause", headers=SUP)
    assert r.status_code == 200 and r.json()["paused"] is True and api.store.paused()
    assert (await api.http.get("/api/surveys/dialer", headers=SUP)).json()["paused"] is True
    r = await api.http.post("/api/surveys/resume", headers=SUP)
    assert r.json()["paused"] is False and not api.store.paused()
    for method, path in (("GET", "dialer"), ("POST", "pause"), ("POST", "resume")):
        r = await api.http.request(method, f"/api/surveys/{path}", headers=AGENT)
        assert r.status_code == 403, path
    assert not api.store.paused()


async def test_opt_out_and_back_in(api: Api) -> None:
    number = "+8613900001111"
    path = f"/api/surveys/optouts/{number}"
    assert (await api.http.get(path, headers=SUP)).json()["opted_out"] is False
    r = await api.http.put(path, json={"reason": "asked on the phone"}, headers=SUP)
    assert r.json() == {"number": number, "opted_out": True, "changed": True}
    assert api.store.opted_out(number)
    r = await api.http.put(path, headers=SUP)  # idempotent; no body needed
    assert r.json() == {"number": number, "opted_out": True, "changed": False}
    assert (await api.http.get(path, headers=SUP)).json()["opted_out"] is True
    r = await api.http.delete(path, headers=SUP)
    assert r.json() == {"number": number, "opted_out": False, "changed": True}
    assert not api.store.opted_out(number)
    assert (await api.http.delete(path, headers=SUP)).json()["changed"] is False
    for bad in ("12ab", "139-0000-1111", "1" * 21, "+", "++8613900001111"):
        for method in ("GET", "PUT", "DELETE"):
            r = await api.http.request(method, f"/api/surveys/optouts/{bad}", headers=SUP)
            assert error(r) == (422, "survey.bad_number"), (method, bad)
    assert (await api.http.put(path, headers=AGENT)).status_code == 403
    assert (await api.http.delete(path, headers=AGENT)).status_code == 403
    assert not api.store.opted_out(number)


async def test_every_survey_route_is_404_when_surveys_are_off(
    engine: Engine, settings: Settings
) -> None:
    routes = [
        ("GET", "/api/surveys"),
        ("GET", "/api/surveys/1"),
        ("GET", "/api/tickets/1/survey"),
        ("POST", "/api/surveys/1/pause"),
        ("POST", "/api/surveys/1/resume"),
        ("POST", "/api/surveys/1/cancel"),
        ("POST", "/api/surveys/pause"),
        ("POST", "/api/surveys/resume"),
        ("GET", "/api/surveys/dialer"),
        ("PUT", "/api/surveys/optouts/13900001111"),
        ("DELETE", "/api/surveys/optouts/13900001111"),
        ("GET", "/api/surveys/stats?since=2026-11-20T00:00&until=2026-11-21T00:00"),
    ]
    async with client(web_app(settings, engine, None, SupervisorAlerts(), Clock(DAY))) as http:
        for method, path in routes:
            r = await http.request(method, path, headers=SUP)
            assert error(r) == (404, "survey.disabled"), path
            assert (await http.request(method, path)).status_code == 401, path  # roles first
        snap = (await http.get("/api/live", headers=SUP)).json()
        assert "surveys" not in snap and snap["alerts"] == []


# -- alerts and the live view --------------------------------------------------------------------
def dissatisfied_alert(ticket_id: int, at: datetime) -> Alert:
    return Alert(
        "survey.dissatisfied",
        at,
        f"ticket {ticket_id}: the citizen is dissatisfied",
        ticket_id,
        {"survey_id": ticket_id + 1, "department": "water"},
    )


async def test_alerts_and_the_live_snapshot(api: Api, frozen_now: datetime) -> None:
    """ "Today" is the local day of the app's "now", at every instant of ``frozen_now`` (a
    Sunday 23:30, a morning still yesterday in UTC, New Year's Eve...)."""
    now = api.clock.at = frozen_now
    for result in ("satisfied", "basically_satisfied", "dissatisfied", "satisfied"):
        completed(api.store, result, now)
    completed(api.store, "dissatisfied", now - timedelta(days=2))  # not today
    held = scheduled(api.store)
    scheduled(api.store)
    api.store.pause(held.id)
    api.store.claim(LATER, 1)  # one calling now
    api.alerts.raise_(dissatisfied_alert(41, now - timedelta(minutes=5)))
    api.alerts.raise_(dissatisfied_alert(42, now))

    r = await api.http.get("/api/alerts", headers=SUP)
    assert [a["ticket_id"] for a in r.json()] == [42, 41]  # newest first
    assert r.json()[0]["kind"] == "survey.dissatisfied"
    assert r.json()[0]["data"] == {"survey_id": 43, "department": "water"}
    assert r.json()[0]["at"].endswith("+08:00")  # local time
    assert [
        a["ticket_id"] for a in (await api.http.get("/api/alerts?limit=1", headers=SUP)).json()
    ] == [42]
    assert (await api.http.get("/api/alerts", headers=AGENT)).status_code == 403

    snap = (await api.http.get("/api/live", headers=SUP)).json()
    surveys = snap["surveys"]
    assert (surveys["surveyed"], surveys["dissatisfied"]) == (4, 1)
    assert surveys["satisfaction_rate"] == 0.75 and surveys["satisfied_share"] == 0.5
    assert (surveys["calling"], surveys["scheduled"], surveys["paused"]) == (1, 0, 1)
    assert surveys["target"] == {"low": 0.95, "high": 0.976}
    assert surveys["dialer_paused"] is False
    assert [a["ticket_id"] for a in snap["alerts"]] == [42, 41]
    # Today's report (no day given) has today's four.
    r = await api.http.get("/api/reports/daily", params={"format": "csv"}, headers=SUP)
    assert "total,total,4,2,1,1,0.75,0.5,0.95,0.976" in r.text


async def test_the_wallboard_shows_satisfaction_and_alerts(
    db_url: NewDbUrl, settings: Settings, browser: webdriver.Chrome, fixed_now: datetime
) -> None:
    url = db_url("wall")
    migrate(url)
    engine = make_engine(url)
    store, alerts = SurveyStore(engine), SupervisorAlerts()
    AgentStore(engine).upsert(
        "wsup",
        name="Wall",
        extension=None,
        roles=["supervisor"],
        skills={},
        password_hash=hash_password("wall-pw-123"),
    )
    now = fixed_now
    for result in ("satisfied", "satisfied", "dissatisfied"):
        completed(store, result, now)
    scheduled(store)
    store.set_paused(True, "sup1")
    alerts.raise_(dissatisfied_alert(77, now))
    web = WebServer(web_app(settings, engine, store, alerts, Clock(now)), "127.0.0.1", free_port())
    task = asyncio.create_task(web.run())
    try:
        await wait_for(lambda: web.started, 15, "the web server")
        wait = WebDriverWait(browser, 20)

        def panels() -> tuple[str, str, str]:
            browser.get(f"http://127.0.0.1:{web.port}/wallboard")
            wait.until(ec.visibility_of_element_located((By.ID, "agent_id"))).send_keys("wsup")
            browser.find_element(By.ID, "password").send_keys("wall-pw-123")
            browser.find_element(By.CSS_SELECTOR, "#login button").click()
            rate = wait.until(ec.visibility_of_element_located((By.ID, "sat-rate")))
            alert = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "li.alert")))
            browser.save_screenshot(str(RESULTS / "wallboard-surveys.png"))
            return rate.text, browser.find_element(By.ID, "surveys").text, alert.text

        await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
        rate, panel, alert = await asyncio.to_thread(panels)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()
    assert rate == "66.7%"
    assert "target 95.0%\u201397.6%" in panel and "surveyed 3" in panel
    assert "scheduled 1" in panel and "dialer paused" in panel
    assert "ticket 77: the citizen is dissatisfied" in alert


# -- the command line ----------------------------------------------------------------------------
def test_the_surveys_command_line(tmp_path: Path, db_url: NewDbUrl) -> None:
    url = db_url()
    cfg = str(config_for(tmp_path, url))
    migrate(url)
    engine = make_engine(url)
    store = SurveyStore(engine)
    done = completed(store, "basically_satisfied", DAY.replace(hour=10), number="13912345678")
    survey = scheduled(store, number="13800005555")

    def cli(*args: str) -> tuple[int, str, str]:
        r = run_cli("-c", cfg, "surveys", *args)
        return r.returncode, r.stdout, r.stderr

    code, out, _ = cli("list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(lines) == {str(done.id), str(survey.id)}
    masked, due = "*******5555", ["2030-01-02", "09:30"]  # due in local time
    want = [str(survey.id), "scheduled", str(survey.ticket_id), masked, "0", *due, "-"]
    assert lines[str(survey.id)].split() == want
    assert lines[str(done.id)].split()[1:5] == [
        "completed",
        str(done.ticket_id),
        "*******5678",
        "1",
    ]
    assert lines[str(done.id)].endswith("basically_satisfied")
    assert "13912345678" not in out and "13800005555" not in out  # masked
    code, out, _ = cli("list", "--status", "completed")
    assert [line.split()[0] for line in out.splitlines()[1:-1]] == [str(done.id)]

    assert cli("pause", str(survey.id))[0] == 0
    assert getattr(store.get(survey.id), "status", None) == "paused"
    code, _, err = cli("pause", str(survey.id))
    assert code == 1 and f"survey {survey.id} is paused" in err
    code, _, err = cli("resume", "999999")
    assert code == 1 and "no survey 999999" in err
    code, out, _ = cli("resume", str(survey.id))
    assert code == 0 and "scheduled" in out
    code, _, err = cli("cancel", str(done.id))
    assert code == 1 and "is completed" in err
    assert cli("cancel", str(survey.id), "--reason", "wrong number")[0] == 0
    cancelled = store.get(survey.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert cancelled.reason.startswith("cancelled by cli") and "wrong number" in cancelled.reason

    code, out, _ = cli("pause")
    assert code == 0 and store.paused() and "paused" in out
    assert "(the dialer is paused)" in cli("list")[1]
    assert cli("resume")[0] == 0 and not store.paused()

    code, out, _ = cli("optout", "+8613900001111", "--reason", "asked")
    assert code == 0 and store.opted_out("+8613900001111") and mask("+8613900001111") in out
    assert "already" in cli("optout", "+8613900001111")[1]
    assert cli("optin", "+8613900001111")[0] == 0 and not store.opted_out("+8613900001111")
    code, _, err = cli("optout", "not-a-number")
    assert code == 2 and "not a phone number" in err

    # The report written by the CLI carries the satisfaction block.
    out_dir = tmp_path / "reports"
    r = run_cli("-c", cfg, "report", "daily", "--date", "2026-11-20", "--out", str(out_dir))
    assert r.returncode == 0 and "1 surveyed" in r.stdout
    text = (out_dir / "daily-2026-11-20.csv").read_text()
    assert "total,total,1,0,1,0,1.0,0.0,0.95,0.976" in text
    engine.dispose()
