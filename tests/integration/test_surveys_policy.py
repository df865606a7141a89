"""Survey policy (pure: windows, holidays, retries, outcomes, config errors), the survey
store's guarantees on SQLite and PostgreSQL (one survey per ticket, a due survey claimed by
one dialler only, an interrupted call never dialled again by itself) and the scheduler's
look-back and window with a fake dialer.

"Now" is injected, never read: the window and scheduler tests run at each instant of
``frozen_now`` (a Thursday, a Sunday night, a month end...: testkit/clock.py), the store tests
at ``fixed_now``."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from hotline.app.settings import ConfigError, parse_settings
from hotline.core.calendar import WorkCalendar
from hotline.surveys.attempt import AttemptResult
from hotline.surveys.config import WINDOW_DAYS, SurveySettings
from hotline.surveys.policy import CallWindow, Next, after_attempt, outcome_of_status
from hotline.surveys.scheduler import LOOKBACK, SurveyScheduler
from hotline.surveys.store import Candidate, Claim, Survey, SurveyStore
from hotline.tickets.service import SYSTEM, TicketService
from hotline.tickets.store import TicketStore
from testkit.clock import Clock
from tests.integration.conftest import shipped_section

SETTINGS = parse_settings({"tickets": shipped_section("tickets")}, "test")
TZ = SETTINGS.tz
CALENDAR = WorkCalendar.from_settings(SETTINGS.tickets.calendar, TZ)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc, arg-type]


def window(**changes: Any) -> CallWindow:
    return CallWindow.from_settings(SurveySettings(**changes), CALENDAR)


# -- the calling window (defaults: Mon-Fri 09:00-20:00, Sat/Sun 10:00-18:00, no holidays) ---
@pytest.mark.parametrize(
    ("at", "opens"),
    [
        (local(2026, 11, 23, 12, 0), local(2026, 11, 23, 12, 0)),  # Monday noon: open now
        (local(2026, 11, 23, 8, 59), local(2026, 11, 23, 9, 0)),  # before the day's window
        (local(2026, 11, 23, 20, 0), local(2026, 11, 24, 9, 0)),  # closed at 20:00 sharp
        (local(2026, 11, 27, 21, 30), local(2026, 11, 28, 10, 0)),  # Friday night → Saturday
        (local(2026, 9, 30, 20, 30), local(2026, 10, 8, 9, 0)),  # National Day week skipped
        (local(2026, 10, 9, 22, 0), local(2026, 10, 10, 9, 0)),  # Saturday make-up day: weekday
    ],
)
def test_next_open(at: datetime, opens: datetime) -> None:
    assert window().next_open(at) == opens


def test_holiday_window_and_closing() -> None:
    w = window(holiday_window="10:00-12:00")
    assert w.next_open(local(2026, 10, 2, 9, 0)) == local(2026, 10, 2, 10, 0)
    assert w.closes(local(2026, 10, 2, 11, 0)) == local(2026, 10, 2, 12, 0)
    assert w.closes(local(2026, 10, 2, 12, 0)) is None
    # Time zones: 09:30 in Shanghai is 01:30 UTC, inside the window.
    assert window().inside(datetime(2026, 11, 23, 1, 30, tzinfo=UTC))


def test_sip_status_outcomes() -> None:
    assert [outcome_of_status(s) for s in (486, 600, 480, 408, 487, 603, 403, 404, 503)] == [
        "busy",
        "busy",
        "no_answer",
        "no_answer",
        "no_answer",
        "rejected",
        "rejected",
        "failed",
        "failed",
    ]


def test_retries_spacing_and_final_statuses() -> None:
    s = SurveySettings(max_attempts=3)
    w = window()
    ended = local(2026, 11, 23, 19, 50)  # Monday evening
    busy = after_attempt(s, w, "busy", 1, ended)
    assert busy == Next("scheduled", local(2026, 11, 24, 9, 0))  # +30 min is past 20:00
    assert after_attempt(s, w, "no_answer", 1, local(2026, 11, 23, 10, 0)) == Next(
        "scheduled", local(2026, 11, 23, 12, 0)
    )
    assert after_attempt(s, w, "answered", 1, ended).status == "completed"
    last = after_attempt(s, w, "busy", 3, ended)
    assert (last.status, last.next_at) == ("unreachable", None)
    assert after_attempt(s, w, "no_input", 3, ended).status == "no_response"


@pytest.mark.parametrize("holiday_window", [None, "10:00-12:00"])
def test_next_open_from_any_instant(frozen_now: datetime, holiday_window: str | None) -> None:
    """From any "now": the window opens at the first minute it is open, never before it (a
    closed minute between), on the local day (Shanghai), holidays and make-up days included."""
    w = window(holiday_window=holiday_window)
    opens = w.next_open(frozen_now)
    assert opens >= frozen_now and w.inside(opens)
    assert opens.utcoffset() == timedelta(hours=8)  # local time
    minute = frozen_now
    while minute < opens:  # the instants fall on whole minutes, as the windows do
        assert not w.inside(minute), minute
        minute += timedelta(minutes=1)
    assert (w.closes(frozen_now) is not None) == (opens == frozen_now)
    hours = w.hours(opens.date())
    assert hours is not None and hours[0] <= opens.time() < hours[1]


def test_retry_from_any_instant(frozen_now: datetime) -> None:
    s = SurveySettings(max_attempts=3)
    w = window()
    for outcome, minutes in (("busy", 30), ("no_answer", 120), ("rejected", 1440)):
        nxt = after_attempt(s, w, outcome, 1, frozen_now)
        assert nxt.status == "scheduled" and nxt.next_at is not None
        assert nxt.next_at == w.next_open(frozen_now + timedelta(minutes=minutes))
        assert nxt.next_at >= frozen_now + timedelta(minutes=minutes) and w.inside(nxt.next_at)


@pytest.mark.parametrize(
    ("surveys", "message"),
    [
        ({"window": {"mon": "25:00-26:00"}}, "not a time of day"),
        ({"window": {"mon": "18:00-09:00"}}, "must end after it starts"),
        ({"window": {"funday": "09:00-10:00"}}, "is not a weekday"),
        (
            {"window": {"mon": None}, "holiday_window": None}
            | {"window": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
            "no day has calling hours",
        ),
        ({"do_not_call": ["12a45"]}, "is not a number or a prefix"),
        ({"prompts": {"question": {"zh": "请按键"}}}, "survey prompts missing"),
        ({"max_attempts": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_survey_config(surveys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings({"surveys": surveys}, "test")
    assert message in str(exc.value) and "surveys" in str(exc.value)


def test_prompt_needed_in_every_ivr_language() -> None:
    prompts = {
        p: {"zh": "好"} for p in ("question", "invalid", "no_input", "comment", "thanks", "goodbye")
    }
    ivr = {"languages": {"zh": {"voice": "cmn"}, "en": {"voice": "en-us"}}}
    with pytest.raises(ConfigError, match=r"surveys.prompts.question: no text in 'en'"):
        parse_settings({"surveys": {"prompts": prompts}, "ivr": ivr}, "test")


def test_do_not_call_prefixes() -> None:
    s = SurveySettings(do_not_call=["110", "+8610*"])
    assert s.blocked("110") and s.blocked("+861012345678")
    assert not s.blocked("1100") and not s.blocked("13900000001")


# -- the store ------------------------------------------------------------------------------
def candidate(n: int, at: datetime) -> Candidate:
    return Candidate(
        n,
        None,
        f"1390000{n:04d}",
        "zh",
        "popa",
        "urban_management",
        "street_lighting",
        "complaint",
        at,
    )


def test_one_survey_per_ticket(engine: Engine, fixed_now: datetime) -> None:
    store = SurveyStore(engine)
    now = fixed_now
    assert store.create(candidate(1, now), due_at=now) is not None
    assert store.create(candidate(1, now), due_at=now) is None  # resolved again: no second survey
    assert store.counts() == {"scheduled": 1}


def test_due_surveys_claimed_by_one_dialler_only(engine: Engine, fixed_now: datetime) -> None:
    store = SurveyStore(engine)
    now = fixed_now
    for n in range(30):
        store.create(candidate(100 + n, now), due_at=now - timedelta(seconds=n))
    store.create(candidate(200, now), due_at=now + timedelta(hours=1))  # not due
    got: list[list[Claim]] = [[], [], []]

    def claimer(i: int) -> None:
        for _ in range(10):
            got[i] += SurveyStore(engine).claim(now, 4)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [c.survey.id for claims in got for c in claims]
    assert len(ids) == len(set(ids)) == 30  # every due survey once, none twice
    assert all(c.n == 1 and c.survey.status == "calling" for claims in got for c in claims)
    assert all(len(store.attempts(i)) == 1 for i in ids)
    assert store.counts() == {"calling": 30, "scheduled": 1}


def test_interrupted_call_is_never_dialled_again_by_itself(
    engine: Engine, fixed_now: datetime
) -> None:
    store = SurveyStore(engine)
    now = fixed_now
    survey = store.create(candidate(300, now), due_at=now)
    assert survey is not None
    (claim,) = store.claim(now, 10)
    assert store.interrupt_calling(now) == [survey.id]  # the service died mid-call
    # The dead service's late result (had it survived) cannot move it any more.
    assert not store.finish(
        claim, Next("completed"), outcome="answered", ended_at=now, result="satisfied"
    )
    later = now + timedelta(days=30)
    assert store.claim(later, 10) == []
    s = store.get(survey.id)
    assert s is not None and (s.status, s.result) == ("interrupted", None)
    # Only an operator's resume puts it back; the next attempt is number 2.
    assert store.resume(survey.id, later) is not None
    (again,) = store.claim(later, 10)
    assert again.n == 2


def test_operators_pause_resume_cancel(engine: Engine, fixed_now: datetime) -> None:
    store = SurveyStore(engine)
    now = fixed_now
    survey = store.create(candidate(400, now), due_at=now)
    assert survey is not None
    assert store.pause(survey.id) is not None
    assert store.claim(now, 10) == []  # paused: not due
    assert store.pause(survey.id) is None  # not scheduled any more
    assert store.resume(survey.id, now) is not None
    (claim,) = store.claim(now, 10)
    assert store.cancel(survey.id, "citizen called to say no") is not None
    # The call in progress ends; its attempt is kept, the survey stays cancelled.
    assert not store.finish(claim, Next("scheduled", now), outcome="busy", ended_at=now)
    assert [a.outcome for a in store.attempts(survey.id)] == ["busy"]
    s = store.get(survey.id)
    assert s is not None and s.status == "cancelled"
    assert store.resume(survey.id, now) is None  # cancelled is final
    assert not store.paused()
    store.set_paused(True, "sup")
    assert store.paused()
    store.set_paused(False, "sup")
    assert not store.paused()


# -- the scheduler: look-back and window, a fake dialer ------------------------------------------
class Answering:
    """A dialer whose citizens all answer "satisfied"."""

    def __init__(self) -> None:
        self.calls: list[Claim] = []

    async def call(self, claim: Claim) -> AttemptResult:
        self.calls.append(claim)
        return AttemptResult("answered", digits="1", result="satisfied")


async def test_scheduler_surveys_recent_tickets_and_dials_inside_the_window_only(
    engine: Engine, frozen_now: datetime
) -> None:
    """One clock for all: tickets are resolved at it, the scheduler reads it. A ticket
    resolved just within the look-back is surveyed, one just before it is not; the survey
    rings the minute the window opens, even when that is days ahead (more than the
    look-back), never before."""
    clock = Clock(frozen_now)
    tickets = TicketService(
        SETTINGS.tickets,
        TicketStore(engine),
        clock,
        tz=SETTINGS.tz,
        languages=SETTINGS.ivr.languages,
    )

    async def resolved(number: str, at: datetime) -> int:
        """A ticket created and resolved at ``at`` (the clock then put back)."""
        back, clock.at = clock.at, at
        values = {
            "kind": "complaint",
            "category": "street_lighting",
            "caller_number": number,
            "description": "lamp out",
        }
        d = await tickets.create(SYSTEM, values)
        await tickets.transition(SYSTEM, d.ticket.id, "resolved", resolution="repaired")
        clock.at = back
        return d.ticket.id

    # 10:00-11:00 four days ahead (local), on a calendar without holidays: closed now.
    day = frozen_now.astimezone(TZ).date() + timedelta(days=4)
    plain = dataclasses.replace(
        CALENDAR, days_off=frozenset(), extra_workdays=frozenset(), statutory=None
    )
    s = SurveySettings(
        window={WINDOW_DAYS[day.weekday()]: "10:00-11:00"}, holiday_window=None, delay_minutes=1
    )
    w = CallWindow.from_settings(s, plain)
    store, dialer, applied = SurveyStore(engine), Answering(), []

    async def apply(survey: Survey) -> None:
        applied.append(survey.id)

    sched = SurveyScheduler(s, store, w, dialer, apply, clock)
    old = await resolved("13900000101", frozen_now - LOOKBACK - timedelta(minutes=1))
    recent = await resolved("13900000102", frozen_now - LOOKBACK + timedelta(minutes=1))
    now = await resolved("13900000103", frozen_now)

    assert await sched.tick() == []
    assert store.of_ticket(old) is None  # resolved before the look-back: never surveyed
    opens = datetime.combine(day, time(10), TZ)
    due = [store.of_ticket(t) for t in (recent, now)]
    assert [(x.status, x.next_at) for x in due if x is not None] == [("scheduled", opens)] * 2

    clock.at = opens - timedelta(seconds=1)  # due, the window still closed
    assert await sched.tick() == [] and dialer.calls == []
    clock.at = opens
    # Resolved when the window opens, days after the first tick: surveyed all the same.
    late = await resolved("13900000104", opens)
    claims = await sched.tick()
    assert {c.survey.ticket_id for c in claims} == {recent, now}
    await sched.drain()
    assert sorted(c.survey.ticket_id or 0 for c in dialer.calls) == sorted([recent, now])
    assert sorted(applied) == sorted(c.survey.id for c in claims)
    assert store.of_ticket(late) is not None and store.of_ticket(old) is None
    assert store.counts() == {"completed": 2, "scheduled": 1}
