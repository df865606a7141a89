"""Tickets: the 12345 lifecycle on SQLite and PostgreSQL (every legal transition, every illegal
one refused with nothing written, required fields, roles, complete history), deadlines in
working days over weekends, public holidays and make-up days (dates computed by hand), the
overdue list, the migration keeping old tickets, and the REST API through the running service.

One module on purpose: the scenarios share one set of fixtures and helpers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import Engine, text

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.calls.store import CallStore
from hotline.core.auth import Principal, hash_password
from hotline.core.calendar import WorkCalendar
from hotline.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from hotline.db.engine import make_engine, migrate
from hotline.tickets import lifecycle
from hotline.tickets.service import SYSTEM, TicketService
from hotline.tickets.store import TicketDetail, TicketStore
from telephony.tracker import CallRecord, Disposition
from testkit.support import supervisor_session

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
AG1 = Principal("ag1", ("agent",))
AG2 = Principal("ag2", ("agent",))
SUP = Principal("sup1", ("supervisor",))


def shipped_tickets() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    section: dict[str, Any] = data["tickets"]
    return section


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(local(2026, 2, 13, 9, 0))  # a Friday, the eve of a make-up Saturday


@pytest.fixture
def svc(engine: Engine, clock: Clock) -> TicketService:
    settings = Settings.model_validate({"tickets": shipped_tickets()})
    return TicketService(
        settings.tickets,
        TicketStore(engine),
        clock,
        tz=settings.tz,
        languages=settings.ivr.languages,
    )


NOISE = {
    "kind": "complaint",
    "category": "noise",
    "description": "KTV loud after 23:00",
    "caller_number": "13900000001",
    "location": "Renmin Road 12",
}


async def refused(
    kind: type[DomainError], code: str, svc: TicketService, ticket_id: int, call: Any
) -> None:
    """``call`` fails with ``kind``/``code`` and the ticket is exactly as before."""
    before = await svc.get(ticket_id)
    with pytest.raises(kind) as info:
        await call
    assert info.value.code == code, info.value.message
    assert await svc.get(ticket_id) == before


def steps(d: TicketDetail) -> list[tuple[str | None, str | None]]:
    return [(e.from_status, e.to_status) for e in d.history if e.action == "transition"]


# -- the lifecycle -------------------------------------------------------------------------------
async def test_every_legal_transition_with_its_history(svc: TicketService, clock: Clock) -> None:
    # A complaint through dispatch, return, redispatch, reply, dissatisfaction, closing and a
    # supervisor's reopening after closing.
    t = await svc.create(AG1, {**NOISE}, status="draft")
    tid = t.ticket.id
    assert t.ticket.status == "draft" and t.ticket.handler == "ag1"
    assert t.ticket.department == "renmin_road_street"  # the category's default
    d = await svc.transition(AG1, tid, "open")
    d = await svc.transition(AG1, tid, "dispatched")
    assert d.ticket.deadline is not None and d.ticket.dispatched_at == clock.at
    d = await svc.transition(AG1, tid, "open", note="not ours: a business premises")
    assert d.ticket.deadline is None  # back at the centre: no department deadline runs
    d = await svc.transition(AG1, tid, "dispatched", department="market_regulation")
    assert d.ticket.department == "market_regulation"
    clock.at += timedelta(days=1)
    d = await svc.transition(AG1, tid, "resolved", resolution="Inspected; volume limited.")
    assert d.ticket.resolved_at == clock.at and d.ticket.resolution == "Inspected; volume limited."
    d = await svc.transition(AG1, tid, "reopened", note="caller dissatisfied: still loud")
    assert d.ticket.resolved_at is None and d.ticket.deadline is None
    d = await svc.transition(AG1, tid, "dispatched")  # to the department it had
    d = await svc.transition(AG1, tid, "resolved", resolution="Equipment sealed.")
    d = await svc.transition(AG1, tid, "closed")
    assert d.ticket.closed_at == clock.at
    d = await svc.transition(SUP, tid, "reopened", note="same noise again a week later")
    d = await svc.transition(SUP, tid, "resolved", resolution="Owner fined; caller informed.")
    d = await svc.transition(AG1, tid, "closed")
    # A silent call's draft discarded, and a consultation answered on the spot.
    silent = await svc.create(AG1, {"caller_number": "13900000002"}, status="draft")
    s = await svc.transition(AG1, silent.ticket.id, "closed", note="silent call")
    info = await svc.create(
        AG1,
        {
            "kind": "consultation",
            "category": "social_security",
            "description": "How to move my pension account?",
        },
    )
    assert info.ticket.status == "open"
    i = await svc.transition(AG1, info.ticket.id, "resolved", resolution="Explained the steps.")

    walked = steps(d) + steps(s) + steps(i)
    assert set(walked) == {(t.source, t.target) for t in lifecycle.TRANSITIONS}
    assert walked[:4] == [
        ("draft", "open"),
        ("open", "dispatched"),
        ("dispatched", "open"),
        ("open", "dispatched"),
    ]
    # Every change is in the history: who, which fields from → to, and the note.
    assert [e.action for e in d.history] == ["create"] + ["transition"] * 12
    assert d.history[0].to_status == "draft" and d.history[0].actor == "ag1"
    assert d.history[0].changes["category"] == [None, "noise"]
    returned = d.history[3]
    assert returned.note == "not ours: a business premises" and returned.actor == "ag1"
    assert returned.changes["status"] == ["dispatched", "open"]
    assert returned.changes["deadline"][1] is None
    redispatch = d.history[4]
    assert redispatch.changes["department"] == ["renmin_road_street", "market_regulation"]
    assert d.history[10].actor == "sup1" and d.history[10].changes["status"] == [
        "closed",
        "reopened",
    ]
    assert [e.at for e in d.history] == sorted(e.at for e in d.history)


async def test_illegal_transitions_are_refused_and_change_nothing(svc: TicketService) -> None:
    # One ticket in each status, then every move the table does not allow.
    draft = await svc.create(AG1, dict(NOISE), status="draft")
    opened = await svc.create(AG1, dict(NOISE))
    dispatched = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, dispatched.ticket.id, "dispatched")
    resolved = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, resolved.ticket.id, "resolved", resolution="done")
    closed = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, closed.ticket.id, "resolved", resolution="done")
    await svc.transition(AG1, closed.ticket.id, "closed")
    reopened = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, reopened.ticket.id, "resolved", resolution="done")
    await svc.transition(AG1, reopened.ticket.id, "reopened", note="dissatisfied")
    by_status = {d.ticket.status: d.ticket.id for d in (draft, opened)}
    for d in (dispatched, resolved, closed, reopened):
        got = await svc.get(d.ticket.id)
        by_status[got.ticket.status] = got.ticket.id
    assert set(by_status) == set(lifecycle.STATUSES)

    refusals = 0
    for source, target in itertools.product(lifecycle.STATUSES, repeat=2):
        if lifecycle.find(source, target) is not None:
            continue
        tid = by_status[source]
        # Whatever the request carries (even what the step would need), it is refused.
        call = svc.transition(SUP, tid, target, note="n", resolution=None)
        await refused(Conflict, "ticket.illegal_transition", svc, tid, call)
        refusals += 1
    assert refusals == 36 - len(lifecycle.TRANSITIONS) == 25
    with pytest.raises(Invalid) as bad:
        await svc.transition(AG1, by_status["open"], "archived")
    assert bad.value.code == "ticket.unknown_status"


async def test_each_step_needs_its_fields(svc: TicketService) -> None:
    d = await svc.create(AG1, {"caller_number": "13900000003"}, status="draft")
    tid = d.ticket.id
    await refused(Invalid, "ticket.missing_field", svc, tid, svc.transition(AG1, tid, "open"))
    await refused(Invalid, "ticket.missing_field", svc, tid, svc.transition(AG1, tid, "closed"))
    with pytest.raises(Invalid) as info:
        await svc.create(AG1, {"kind": "complaint", "category": "noise"})  # open, no description
    assert info.value.code == "ticket.missing_field" and "description" in info.value.message
    await svc.update(AG1, tid, {k: v for k, v in NOISE.items() if k != "caller_number"})
    await svc.transition(AG1, tid, "open")
    # No department (cleared by hand): dispatch says what is missing.
    await svc.update(AG1, tid, {"department": None})
    with pytest.raises(Invalid) as info:
        await svc.transition(AG1, tid, "dispatched")
    assert info.value.code == "ticket.missing_field" and "department" in info.value.message
    await refused(
        Invalid,
        "ticket.missing_field",
        svc,
        tid,
        svc.transition(AG1, tid, "resolved", resolution="  "),
    )
    await svc.transition(AG1, tid, "dispatched", department="ecology")
    await refused(Invalid, "ticket.missing_field", svc, tid, svc.transition(AG1, tid, "open"))
    await refused(
        Invalid,
        "ticket.unexpected_field",
        svc,
        tid,
        svc.transition(AG1, tid, "resolved", department="ecology", resolution="x"),
    )
    await svc.transition(AG1, tid, "resolved", resolution="Fixed.")
    await refused(Invalid, "ticket.missing_field", svc, tid, svc.transition(AG1, tid, "reopened"))
    await refused(
        Invalid, "ticket.missing_field", svc, tid, svc.update(AG1, tid, {"description": ""})
    )
    await refused(
        Invalid,
        "ticket.unknown_category",
        svc,
        tid,
        svc.update(AG1, tid, {"category": "ufo_sightings"}),
    )
    for values, code in (
        ({"kind": "praise"}, "ticket.unknown_kind"),
        ({"channel": "fax"}, "ticket.unknown_channel"),
        ({"caller_language": "fr"}, "ticket.unknown_language"),
        ({"department": "nasa"}, "ticket.unknown_department"),
    ):
        with pytest.raises(Invalid) as info:
            await svc.create(AG1, values, status="draft")
        assert info.value.code == code


async def test_who_may_change_a_ticket(svc: TicketService) -> None:
    d = await svc.create(AG1, dict(NOISE))
    tid = d.ticket.id
    await refused(Forbidden, "ticket.not_handler", svc, tid, svc.transition(AG2, tid, "dispatched"))
    await refused(
        Forbidden, "ticket.not_handler", svc, tid, svc.update(AG2, tid, {"location": "x"})
    )
    await refused(
        Forbidden, "ticket.forbidden_field", svc, tid, svc.update(AG1, tid, {"handler": "ag2"})
    )
    await refused(
        Forbidden,
        "ticket.forbidden_field",
        svc,
        tid,
        svc.update(AG1, tid, {"deadline": local(2026, 3, 1)}),
    )
    # Anyone links a repeat call to it; a supervisor hands it over.
    linked = await svc.link_call(AG2, tid, "1700000000.42")
    assert [c.call_id for c in linked.calls] == ["1700000000.42"]
    await svc.update(SUP, tid, {"handler": "ag2"})
    d = await svc.transition(AG2, tid, "resolved", resolution="Done.")
    await svc.transition(AG2, tid, "closed")
    await refused(
        Forbidden,
        "ticket.supervisor_only",
        svc,
        tid,
        svc.transition(AG2, tid, "reopened", note="again"),
    )
    await refused(Conflict, "ticket.closed", svc, tid, svc.update(SUP, tid, {"location": "y"}))
    # A ticket from another channel, registered by the system, is claimed by whoever acts.
    web = await svc.create(SYSTEM, {**NOISE, "channel": "web"})
    assert web.ticket.handler is None and web.ticket.created_by == "system"
    claimed = await svc.transition(AG2, web.ticket.id, "dispatched")
    assert claimed.ticket.handler == "ag2"
    assert claimed.history[-1].changes["handler"] == [None, "ag2"]


async def test_updates_are_recorded_field_by_field(svc: TicketService, clock: Clock) -> None:
    d = await svc.create(AG1, dict(NOISE))
    tid = d.ticket.id
    clock.at += timedelta(minutes=3)
    d = await svc.update(
        AG1,
        tid,
        {
            "location": "Renmin Road 14",
            "description": NOISE["description"],
            "transcript": {"turns": [{"who": "caller", "text": "hi"}]},
        },
    )
    last = d.history[-1]
    assert last.action == "update" and last.at == clock.at and last.actor == "ag1"
    # Only what changed; a transcript is recorded as changed, not copied.
    assert last.changes == {
        "location": ["Renmin Road 12", "Renmin Road 14"],
        "transcript": [None, "(transcript)"],
    }
    assert d.ticket.transcript == {"turns": [{"who": "caller", "text": "hi"}]}
    # Same values again: no history entry.
    again = await svc.update(AG1, tid, {"location": "Renmin Road 14"})
    assert len(again.history) == len(d.history) and again.ticket.updated_at == clock.at
    # Before dispatch the department follows the category; after, it is locked.
    d = await svc.update(AG1, tid, {"category": "water_supply"})
    assert d.ticket.department == "water_group"
    assert d.history[-1].changes == {
        "category": ["noise", "water_supply"],
        "department": ["renmin_road_street", "water_group"],
    }
    await svc.transition(AG1, tid, "dispatched")
    await refused(
        Conflict,
        "ticket.department_locked",
        svc,
        tid,
        svc.update(AG1, tid, {"department": "ecology"}),
    )
    with pytest.raises(NotFound) as missing:
        await svc.update(AG1, 987654, {"location": "z"})
    assert missing.value.code == "ticket.not_found"


async def test_ticket_from_a_call_takes_the_call_record(svc: TicketService, engine: Engine) -> None:
    started = datetime(2026, 2, 13, 1, 0, tzinfo=UTC).timestamp()
    CallStore(engine).save(
        CallRecord(
            call_id="1771000000.7",
            caller_number="13700000007",
            started_at=started,
            ended_at=started + 60,
            disposition=Disposition.ANSWERED,
            agent="1001",
            language="en",
            request_kind="help_request",
            talk_time=40.0,
        )
    )
    d = await svc.create(
        AG1,
        {"category": "water_supply", "description": "No water since 6am"},
        call_id="1771000000.7",
    )
    t = d.ticket
    assert (t.caller_number, t.caller_language, t.kind, t.channel) == (
        "13700000007",
        "en",
        "help_request",
        "phone",
    )
    assert [(c.call_id, c.talk_time, c.language) for c in d.calls] == [("1771000000.7", 40.0, "en")]
    assert d.calls[0].started_at == datetime.fromtimestamp(started, UTC)
    # The caller calls again (no record yet: the call is live); linking twice changes nothing.
    d = await svc.link_call(AG1, t.id, "1771000900.3")
    d2 = await svc.link_call(AG1, t.id, "1771000900.3")
    assert d2 == d
    assert [(c.call_id, c.started_at) for c in d.calls] == [
        ("1771000000.7", datetime.fromtimestamp(started, UTC)),
        ("1771000900.3", None),
    ]
    assert [e.action for e in d.history] == ["create", "link_call", "link_call"]
    assert d.history[-1].changes == {"call_id": [None, "1771000900.3"]}


# -- deadlines -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    settings = Settings.model_validate({"tickets": shipped_tickets()})
    return WorkCalendar.from_settings(settings.tickets.calendar, SHANGHAI)


# (dispatched at, local) + working days → due (local, 18:00), computed by hand on a 2026 calendar.
DEADLINES = [
    # Fri → Mon 12, Tue 13, Wed 14: a plain weekend skipped.
    (local(2026, 1, 9, 10), 3, date(2026, 1, 14)),
    # Late on Friday counts the same: the day of dispatch never counts.
    (local(2026, 1, 9, 23, 59), 1, date(2026, 1, 12)),
    # New Year 1-3 Jan off; Sun 4 Jan is a make-up working day (1), Mon 5 (2).
    (local(2025, 12, 31, 9), 2, date(2026, 1, 5)),
    # Spring Festival: Sat 14 Feb worked (1), 15-23 Feb off, Tue 24 (2), Wed 25 (3).
    (local(2026, 2, 13, 9), 1, date(2026, 2, 14)),
    (local(2026, 2, 13, 9), 3, date(2026, 2, 25)),
    # Dispatched on a Sunday: Monday is the first day.
    (local(2026, 3, 1, 11), 1, date(2026, 3, 2)),
    # Labour Day 1-5 May off: Wed 6 (1), Thu 7 (2), Fri 8 (3), Sat 9 make-up (4).
    (local(2026, 4, 30, 17, 59), 2, date(2026, 5, 7)),
    (local(2026, 4, 30, 17, 59), 4, date(2026, 5, 9)),
    # Fri 18 Sep (1), Sun 20 Sep make-up (2), Mon 21 (3).
    (local(2026, 9, 17, 8), 3, date(2026, 9, 21)),
    # National Day 1-7 Oct off: Thu 8 (1), Fri 9 (2), Sat 10 make-up (3).
    (local(2026, 9, 30, 8), 3, date(2026, 10, 10)),
]


@pytest.mark.parametrize(("at", "days", "due"), DEADLINES)
def test_deadline_in_working_days(
    calendar: WorkCalendar, at: datetime, days: int, due: date
) -> None:
    assert calendar.deadline(at, days) == datetime(
        due.year, due.month, due.day, 18, tzinfo=SHANGHAI
    )


@pytest.mark.parametrize("days", [1, 2, 3, 5, 7, 10])
def test_deadline_from_any_instant(calendar: WorkCalendar, frozen_now: datetime, days: int) -> None:
    """From any "now" (a Thursday evening, a Sunday night, the eve of a holiday week...):
    18:00 local on a working day, with exactly ``days`` working days after today's date."""
    due = calendar.deadline(frozen_now, days)
    today = frozen_now.astimezone(SHANGHAI).date()
    assert due.utcoffset() == timedelta(hours=8) and due.timetz() == time(18, tzinfo=SHANGHAI)
    assert due.date() > today and calendar.is_working_day(due.date())
    counted = [today + timedelta(days=n) for n in range(1, (due.date() - today).days + 1)]
    assert sum(calendar.is_working_day(d) for d in counted) == days


def test_deadline_counts_from_the_local_date(calendar: WorkCalendar) -> None:
    # 17:00 UTC on Friday 9 Jan is already Saturday 01:00 in Shanghai: Monday is day 1.
    due = calendar.deadline(datetime(2026, 1, 9, 17, tzinfo=UTC), 1)
    assert due == local(2026, 1, 12, 18) and due.astimezone(UTC).hour == 10
    assert calendar.is_working_day(date(2026, 1, 4))  # a make-up Sunday
    assert not calendar.is_working_day(date(2026, 10, 5))  # a holiday Monday
    assert not calendar.is_working_day(date(2026, 3, 7))  # a plain Saturday


async def test_dispatch_sets_the_deadline_and_overdue_tickets_are_listed(
    svc: TicketService, clock: Clock, engine: Engine
) -> None:
    # Noise: 5 working days from Fri 13 Feb: Sat 14 (1), Tue 24 (2), 25, 26, Fri 27 Feb (5).
    d = await svc.create(AG1, dict(NOISE))
    d = await svc.transition(AG1, d.ticket.id, "dispatched")
    assert d.ticket.deadline == local(2026, 2, 27, 18)
    done = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, done.ticket.id, "dispatched")
    await svc.transition(AG1, done.ticket.id, "resolved", resolution="Fixed.")
    waiting = await svc.create(AG1, {**NOISE, "caller_number": "13900000009"})  # no deadline
    store = TicketStore(engine)

    clock.at = local(2026, 2, 27, 17, 59)
    assert (await svc.overdue())[1] == 0
    assert not store.has_overdue(NOISE["caller_number"], clock.at)
    clock.at = local(2026, 2, 27, 18, 1)
    late, total = await svc.overdue()
    # The resolved ticket (same deadline) and the undispatched one are not overdue.
    assert total == 1 and [t.id for t in late] == [d.ticket.id]
    assert late[0].overdue(clock.at) and not waiting.ticket.overdue(clock.at)
    assert store.has_overdue(NOISE["caller_number"], clock.at)
    from hotline.tickets.store import TicketQuery

    on_time, n = await svc.search(TicketQuery(overdue=False, category="noise"))
    assert n == 2 and {t.id for t in on_time} == {done.ticket.id, waiting.ticket.id}


async def test_deadline_and_overdue_from_any_instant(
    engine: Engine, frozen_now: datetime, calendar: WorkCalendar
) -> None:
    """Dispatched "now" (the service's clock): due after the category's working days; overdue
    from the deadline on, not a minute before; a resolved ticket never."""
    clock = Clock(frozen_now)
    settings = Settings.model_validate({"tickets": shipped_tickets()})
    svc = TicketService(
        settings.tickets,
        TicketStore(engine),
        clock,
        tz=settings.tz,
        languages=settings.ivr.languages,
    )
    d = await svc.create(AG1, dict(NOISE))
    d = await svc.transition(AG1, d.ticket.id, "dispatched")
    due = calendar.deadline(frozen_now, 5)  # noise: 5 working days
    assert d.ticket.deadline == due and d.ticket.dispatched_at == frozen_now
    done = await svc.create(AG1, dict(NOISE))
    await svc.transition(AG1, done.ticket.id, "dispatched")
    await svc.transition(AG1, done.ticket.id, "resolved", resolution="Quiet now.")
    clock.at = due - timedelta(minutes=1)
    assert (await svc.overdue())[1] == 0
    clock.at = due + timedelta(minutes=1)
    late, total = await svc.overdue()
    assert total == 1 and [t.id for t in late] == [d.ticket.id]


# -- the migration -------------------------------------------------------------------------------
def test_migration_keeps_existing_tickets(blank_url: str) -> None:
    """On an empty database of each kind (conftest ``blank_url``)."""
    migrate(blank_url, "0005")
    eng = make_engine(blank_url)
    created = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, status, caller_number, deadline, created_at, updated_at)"
                " VALUES (41, 'dispatched', '13900000041', :d, :c, :c)"
            ),
            {"d": created + timedelta(days=3), "c": created},
        )
    migrate(blank_url)  # through 0006 (tickets) to head
    store = TicketStore(eng)
    old = store.get(41).ticket
    assert (old.status, old.caller_number, old.channel, old.description) == (
        "dispatched",
        "13900000041",
        "phone",
        "",
    )
    assert old.deadline is not None and old.deadline.astimezone(UTC) == created + timedelta(days=3)
    assert store.status("41") == "dispatched" and store.has_overdue("13900000041")
    assert store.status("99999999999") is None  # beyond a 32-bit id: not found, not an error
    eng.dispose()


# -- the API -------------------------------------------------------------------------------------
PASSWORDS = {"tk_ag1": "agent-pw-tk01", "tk_ag2": "agent-pw-tk02"}


@pytest.fixture
async def api(
    service: Service, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]]]]:
    def accounts() -> None:
        for agent_id, pw in PASSWORDS.items():
            service.agents.upsert(
                agent_id,
                name=agent_id,
                extension=None,
                roles=["agent"],
                skills={"zh": 3},
                password_hash=hash_password(pw),
            )

    await asyncio.to_thread(accounts)
    async with supervisor_session(service, settings, "tk_sup", "supervisor-pw-tk") as (http, sup):
        heads = {"sup": sup}
        for agent_id, pw in PASSWORDS.items():
            r = await http.post("/api/auth/token", json={"agent_id": agent_id, "password": pw})
            heads[agent_id] = {"Authorization": f"Bearer {r.json()['token']}"}
        yield http, heads


def caller() -> str:
    return "186" + datetime.now(UTC).strftime("%H%M%S%f")[:8]  # real time: a fresh number


async def test_api_lifecycle_of_a_wechat_ticket(
    api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    http, h = api
    number = caller()
    body = {
        "channel": "wechat",
        "kind": "report",
        "category": "food_safety",
        "caller_number": number,
        "caller_name": "Ms Li",
        "location": "Night market stall 8",
        "description": "Stall sells expired milk",
    }
    r = await http.post("/api/tickets", json=body, headers=h["tk_ag1"])
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["status"], t["channel"], t["department"], t["handler"]) == (
        "open",
        "wechat",
        "market_regulation",
        "tk_ag1",
    )
    assert t["calls"] == [] and t["overdue"] is False and t["next"] == ["dispatched", "resolved"]
    assert [e["action"] for e in t["history"]] == ["create"]
    tid = t["id"]

    r = await http.post(
        f"/api/tickets/{tid}/transition", json={"to": "dispatched"}, headers=h["tk_ag1"]
    )
    assert r.status_code == 200, r.text
    # Food safety: 5 working days, due at 18:00 local time.
    due = datetime.fromisoformat(r.json()["deadline"])
    assert due.utcoffset() == timedelta(hours=8) and (due.hour, due.minute) == (18, 0)
    assert due.date() > datetime.now(SHANGHAI).date()  # real time: the session service's
    r = await http.post(
        f"/api/tickets/{tid}/transition",
        json={"to": "resolved", "resolution": "Stall closed for inspection."},
        headers=h["tk_ag1"],
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await http.get(f"/api/tickets/{tid}", headers=h["tk_ag2"])  # any agent reads it
    got = r.json()
    assert r.status_code == 200 and got["resolution"] == "Stall closed for inspection."
    assert [(e["from_status"], e["to_status"]) for e in got["history"]] == [
        (None, "open"),
        ("open", "dispatched"),
        ("dispatched", "resolved"),
    ]
    # Listed with its filters; the page says how many match.
    r = await http.get(
        "/api/tickets",
        headers=h["tk_ag2"],
        params={
            "caller_number": number,
            "status": ["resolved", "closed"],
            "kind": "report",
            "category": "food_safety",
        },
    )
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [tid]
    r = await http.get(
        "/api/tickets", headers=h["tk_ag2"], params={"caller_number": number, "status": "open"}
    )
    assert r.json()["total"] == 0


async def test_api_errors(api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]]) -> None:
    http, h = api
    assert (await http.get("/api/tickets")).status_code == 401
    assert (await http.post("/api/tickets", json={"channel": "sms"})).status_code == 401
    r = await http.get("/api/tickets/2000000000", headers=h["tk_ag1"])
    assert r.status_code == 404 and r.json()["error"] == "ticket.not_found"
    r = await http.post(
        "/api/tickets",
        headers=h["tk_ag1"],
        json={"category": "ufo", "kind": "report", "description": "lights"},
    )
    assert r.status_code == 422 and r.json()["error"] == "ticket.unknown_category"
    r = await http.post("/api/tickets", headers=h["tk_ag1"], json={"colour": "red"})
    assert r.status_code == 422  # not a field at all
    r = await http.post(
        "/api/tickets", headers=h["tk_ag1"], json={"kind": "complaint", "category": "noise"}
    )
    assert r.status_code == 422 and r.json()["error"] == "ticket.missing_field"
    # From a call, as a draft; the call is linked.
    r = await http.post(
        "/api/tickets",
        headers=h["tk_ag1"],
        json={"status": "draft", "call_id": "1771234567.89", "caller_number": caller()},
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    assert [c["call_id"] for c in draft["calls"]] == ["1771234567.89"]
    assert draft["channel"] == "phone"
    tid = draft["id"]
    r = await http.post(
        f"/api/tickets/{tid}/transition", json={"to": "dispatched"}, headers=h["tk_ag1"]
    )
    assert r.status_code == 409 and r.json()["error"] == "ticket.illegal_transition"
    r = await http.post(f"/api/tickets/{tid}/transition", json={"to": "open"}, headers=h["tk_ag2"])
    assert r.status_code == 403 and r.json()["error"] == "ticket.not_handler"
    r = await http.patch(
        f"/api/tickets/{tid}", json={"deadline": "2026-01-01T00:00:00"}, headers=h["tk_ag1"]
    )
    assert r.status_code == 403 and r.json()["error"] == "ticket.forbidden_field"
    r = await http.post(
        f"/api/tickets/{tid}/calls", json={"call_id": "1771234999.1"}, headers=h["tk_ag2"]
    )
    assert r.status_code == 200 and len(r.json()["calls"]) == 2
    after = (await http.get(f"/api/tickets/{tid}", headers=h["tk_ag1"])).json()
    assert after["status"] == "draft" and after["updated_by"] == "tk_ag2"
    assert (await http.get("/api/tickets/overdue", headers=h["tk_ag1"])).status_code == 403
    r = await http.get("/api/tickets", params={"status": "lost"}, headers=h["tk_ag1"])
    assert r.status_code == 422 and r.json()["error"] == "ticket.unknown_status"


async def test_api_overdue_list(api: tuple[httpx.AsyncClient, dict[str, dict[str, str]]]) -> None:
    http, h = api
    number = caller()
    body = {
        "kind": "complaint",
        "category": "road_damage",
        "caller_number": number,
        "description": "Pothole at the school gate",
    }
    r = await http.post("/api/tickets", json=body, headers=h["tk_ag1"])
    tid = r.json()["id"]
    await http.post(
        f"/api/tickets/{tid}/transition", json={"to": "dispatched"}, headers=h["tk_ag1"]
    )
    # A supervisor sets the deadline by hand (naive = local time): now in the past.
    r = await http.patch(
        f"/api/tickets/{tid}", headers=h["sup"], json={"deadline": "2026-01-05T18:00:00"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["deadline"] == "2026-01-05T18:00:00+08:00" and r.json()["overdue"] is True
    assert r.json()["history"][-1]["actor"] == "tk_sup"
    r = await http.get("/api/tickets/overdue", headers=h["sup"], params={"limit": 200})
    assert r.status_code == 200
    late = {x["id"]: x for x in r.json()["items"]}
    assert tid in late and late[tid]["overdue"] is True
    assert all(x["status"] in lifecycle.ACTIVE for x in late.values())
    r = await http.get(
        "/api/tickets", headers=h["tk_ag2"], params={"caller_number": number, "overdue": "false"}
    )
    assert r.json()["total"] == 0
    r = await http.get(
        "/api/tickets",
        headers=h["tk_ag2"],
        params={"caller_number": number, "overdue": "true", "limit": 1},
    )
    assert r.json()["total"] == 1 and r.json()["limit"] == 1
    r = await http.get("/api/tickets/taxonomy", headers=h["tk_ag2"])
    tax = r.json()
    assert {"street_lighting", "water_supply", "noise"} <= {c["id"] for c in tax["categories"]}
    assert tax["kinds"] == list(lifecycle.KINDS) and "wechat" in tax["channels"]
