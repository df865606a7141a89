"""Satisfaction-survey callbacks end to end on the session's Asterisk: the survey user agent
(pjsua2, registered as its own endpoint) calls citizens' pjsua2 phones (registered with the
PBX) through the outbound route. The scheduler runs here with an injected clock: retries and
windows are shown by moving the clock, never by sleeping.

The clock is frozen whole: the scheduler, the tickets' creation and resolution and the results
applied to them all read one ``Clock``, which starts at ``fixed_now`` (an awkward Thursday
evening, or HOTLINE_TEST_NOW: testkit/clock.py), never at the machine's time.

One module on purpose: the scenarios share one set of fixtures and helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.core.calendar import WorkCalendar
from hotline.jobs.store import JobStore
from hotline.surveys.config import WINDOW_DAYS
from hotline.surveys.dialer import SipDialer, SurveyPrompts
from hotline.surveys.policy import CallWindow
from hotline.surveys.prompts import build_prompts
from hotline.surveys.results import ResultApplier
from hotline.surveys.scheduler import LOOKBACK, SurveyScheduler
from hotline.surveys.store import Survey, SurveyStore
from hotline.tickets.service import SYSTEM, TicketService
from telephony.audio import synthesize
from telephony.sip import CallHandle, Phone, PhoneConfig, SipStack, allocate_ports
from testkit.clock import Clock
from testkit.support import NewDbUrl, free_port, wait_for
from tests.integration.conftest import CITIZENS

COMMENT = "The street light is still broken and nobody came to repair it"
# Every hour of every day: for the tests whose point is not the window.
ALWAYS: dict[str, Any] = {
    "window": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "00:00-24:00"),
    "holiday_window": "00:00-24:00",
}


async def registered_phone(sip: SipStack, settings: Settings, user: str, password: str) -> Phone:
    ports = allocate_ports(1, low=21000, high=30000)[0]
    phone = await sip.add_phone(
        PhoneConfig(
            user,
            sip_port=ports.sip_port,
            rtp_port=ports.rtp_port,
            registrar=f"sip:127.0.0.1:{settings.pbx.embedded.sip_port}",
            password=password,
        )
    )
    await phone.wait_registered(10)
    return phone


@pytest.fixture(scope="module")
async def prompts(settings: Settings) -> SurveyPrompts:
    return await asyncio.to_thread(build_prompts, settings.surveys, settings.ivr)


@pytest.fixture
async def ua(
    sip: SipStack, settings: Settings, secrets: Secrets, service: Service
) -> AsyncIterator[Phone]:
    """The survey user agent, as the service would register it."""
    phone = await registered_phone(sip, settings, "survey", secrets.survey_password)
    yield phone
    await phone.close()


@pytest.fixture
def clock(fixed_now: datetime) -> Clock:
    """The one clock of the test (scheduler, tickets, results), frozen at ``fixed_now``;
    the tests move it."""
    return Clock(fixed_now)


def tickets_at(service: Service, clock: Clock) -> TicketService:
    """The session's tickets, changed at the test's clock."""
    s = service.settings
    return TicketService(s.tickets, service.tickets, clock, tz=s.tz, languages=s.ivr.languages)


def applier_at(service: Service, clock: Clock) -> ResultApplier:
    """The service's result applier (tickets closed or reopened, alerts, comments queued for
    the session's transcription workers), on the test's clock."""
    s = service.settings
    jobs = JobStore(service.engine) if s.asr.enabled else None
    return ResultApplier(
        tickets_at(service, clock), service.alerts, jobs, s.asr.languages if jobs else (), clock
    )


def make_scheduler(
    service: Service,
    ua: Phone,
    prompts: SurveyPrompts,
    clock: Clock,
    calendar: WorkCalendar | None = None,
    **changes: Any,
) -> SurveyScheduler:
    surveys = service.surveys
    assert surveys is not None
    s = surveys.config.model_copy(update=changes)
    window = CallWindow.from_settings(s, calendar or surveys.window.calendar)
    dialer = SipDialer(ua, surveys.registrar, s, prompts, surveys.recordings_dir)
    return SurveyScheduler(s, surveys.store, window, dialer, applier_at(service, clock), clock)


async def resolved_ticket(service: Service, clock: Clock, number: str, language: str = "en") -> int:
    """A ticket created and resolved at the test clock's time."""
    tickets = tickets_at(service, clock)
    detail = await tickets.create(
        SYSTEM,
        {
            "kind": "complaint",
            "category": "street_lighting",
            "caller_number": number,
            "caller_language": language,
            "description": "street light broken on Heping Road",
            "handler": "popa",
        },
        status="open",
    )
    tid = detail.ticket.id
    await tickets.transition(SYSTEM, tid, "resolved", resolution="repaired on Friday")
    return tid


def store(service: Service) -> SurveyStore:
    assert service.surveys is not None
    return service.surveys.store


async def survey_of(service: Service, ticket_id: int) -> Survey:
    found = await asyncio.to_thread(store(service).of_ticket, ticket_id)
    assert found is not None, f"no survey for ticket {ticket_id}"
    return found


async def ticks_until_claimed(sched: SurveyScheduler, survey_id: int) -> None:
    """Tick (the clock standing still) until ``survey_id`` has been claimed."""

    async def claimed() -> bool:
        return any(c.survey.id == survey_id for c in await sched.tick())

    await wait_for(claimed, 15, f"survey {survey_id} to be dialled")


async def answer_with(call: CallHandle, digits: str, then_say: Path | None = None) -> None:
    await call.answer()
    await call.wait_media(10)
    await call.send_dtmf(digits)
    if then_say is not None:  # speaks for as long as the survey listens
        player = asyncio.create_task(call.play(then_say, loop=True))
        await call.wait_ended(60)
        player.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await player
    else:
        await call.wait_ended(60)


async def test_satisfied_closes_dissatisfied_reopens_with_transcribed_comment(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    ua: Phone,
    prompts: SurveyPrompts,
    clock: Clock,
    phones: list[Phone],
    tmp_path: Path,
) -> None:
    happy_no, unhappy_no = CITIZENS[0], CITIZENS[1]
    happy = await registered_phone(sip, settings, happy_no, secrets.phone_passwords[happy_no])
    unhappy = await registered_phone(sip, settings, unhappy_no, secrets.phone_passwords[unhappy_no])
    phones += [happy, unhappy]
    sched = make_scheduler(service, ua, prompts, clock, **ALWAYS)
    t_happy = await resolved_ticket(service, clock, happy_no)
    t_unhappy = await resolved_ticket(service, clock, unhappy_no)

    # Resolved: each ticket gets its survey, due after the configured delay (1 min).
    assert await sched.tick() == []
    s_happy, s_unhappy = await survey_of(service, t_happy), await survey_of(service, t_unhappy)
    assert s_happy.status == "scheduled" and s_happy.language == "en"
    assert s_happy.next_at is not None and s_happy.next_at > clock()
    assert await sched.tick() == []  # not due yet: nothing dialled
    assert not happy.calls and not unhappy.calls

    clock.advance(minutes=1, seconds=5)  # past the delay: both are due
    claims = await sched.tick()
    assert {c.survey.id for c in claims} == {s_happy.id, s_unhappy.id}
    comment = synthesize(COMMENT, tmp_path / "comment.wav")
    happy_call, unhappy_call = await asyncio.gather(
        happy.next_incoming(15), unhappy.next_incoming(15)
    )
    # The citizen sees the hotline's number.
    assert "12345" in (happy_call.request_header("From") or "")
    await asyncio.gather(answer_with(happy_call, "1"), answer_with(unhappy_call, "3", comment))
    await sched.drain()

    done = await survey_of(service, t_happy)
    assert (done.status, done.result, done.attempts) == ("completed", "satisfied", 1)
    (attempt,) = await asyncio.to_thread(store(service).attempts, done.id)
    assert (attempt.outcome, attempt.digits, attempt.result) == ("answered", "1", "satisfied")
    tickets = TicketService(
        service.settings.tickets,
        service.tickets,
        tz=service.settings.tz,
        languages=service.settings.ivr.languages,
    )
    closed = await tickets.get(t_happy)
    assert closed.ticket.status == "closed"
    assert (
        "satisfaction survey" in closed.history[-1].note and "satisfied" in closed.history[-1].note
    )

    bad = await survey_of(service, t_unhappy)
    assert (bad.status, bad.result) == ("completed", "dissatisfied")
    assert bad.comment_path
    size = await asyncio.to_thread(os.path.getsize, bad.comment_path)
    assert size > 16000  # > 0.5 s of audio
    reopened = await tickets.get(t_unhappy)
    assert reopened.ticket.status == "reopened"

    # The PBX's record of the survey call: the service's own, not a call to the hotline.
    def survey_record() -> Any:
        rows = service.store.find(caller_number="12345", limit=100)
        done = [r for r in rows if r.dialled_number == happy_no and r.ended_at is not None]
        return done[0] if done else None

    record = await wait_for(lambda: asyncio.to_thread(survey_record), 15, "the call record")
    assert (record.disposition, record.queue) == ("outbound", None)
    alerts = service.alerts.recent()
    assert any(a.kind == "survey.dissatisfied" and a.ticket_id == t_unhappy for a in alerts)

    # The comment goes through the ASR pipeline (the session service's workers).
    async def comment_text() -> str | None:
        s = await survey_of(service, t_unhappy)
        return s.comment_text

    text = await wait_for(comment_text, 120, "the comment's transcript")
    print(f"\ncomment transcript: {text!r}")
    words = set(text.lower().replace("caller:", " ").split())
    assert words & {"light", "broken", "repair", "street"}, text


async def test_busy_rejected_and_no_answer_are_retried_then_unreachable(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    ua: Phone,
    prompts: SurveyPrompts,
    clock: Clock,
    phones: list[Phone],
) -> None:
    number = CITIZENS[2]
    citizen = await registered_phone(sip, settings, number, secrets.phone_passwords[number])
    phones.append(citizen)
    # Open all day, so the retries land exactly at the spacing.
    sched = make_scheduler(
        service,
        ua,
        prompts,
        clock,
        **ALWAYS,
        retry_minutes={"busy": 30, "rejected": 45, "no_answer": 120, "no_input": 60, "failed": 60},
    )
    ticket = await resolved_ticket(service, clock, number, language="zh")
    await sched.tick()
    survey = await survey_of(service, ticket)
    clock.advance(minutes=1, seconds=5)

    async def attempt(answer: str) -> datetime:
        """One claimed attempt, the citizen's phone doing ``answer``; when it ended."""
        await ticks_until_claimed(sched, survey.id)
        call = await citizen.next_incoming(15)
        if answer == "busy":
            await call.reject(486)
        elif answer == "reject":
            await call.reject(603)
        else:  # let it ring: the PBX gives up after ring_timeout (6 s)
            await call.wait_ended(30)
        await sched.drain()
        return clock()

    ended = await attempt("busy")
    s = await survey_of(service, ticket)
    assert (s.status, s.attempts) == ("scheduled", 1)
    assert s.next_at == ended + timedelta(minutes=30)
    clock.advance(minutes=29)
    assert await sched.tick() == []  # not before the spacing
    clock.advance(minutes=1)

    ended = await attempt("reject")
    s = await survey_of(service, ticket)
    assert (s.status, s.attempts) == ("scheduled", 2)
    assert s.next_at == ended + timedelta(minutes=45)
    clock.advance(minutes=45)

    await attempt("ring")
    s = await survey_of(service, ticket)
    assert s.status == "unreachable" and s.attempts == 3
    assert "no_answer" in s.reason
    outcomes = [a.outcome for a in await asyncio.to_thread(store(service).attempts, s.id)]
    assert outcomes == ["busy", "rejected", "no_answer"]
    clock.advance(days=3)
    assert await sched.tick() == []  # final: never dialled again


async def test_nothing_dialled_outside_the_window_or_to_blocked_numbers(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    ua: Phone,
    prompts: SurveyPrompts,
    clock: Clock,
    phones: list[Phone],
) -> None:
    ok_no, dnc_no, optout_no = CITIZENS[3], CITIZENS[11], CITIZENS[4]  # [11]: do_not_call
    ok = await registered_phone(sip, settings, ok_no, secrets.phone_passwords[ok_no])
    dnc = await registered_phone(sip, settings, dnc_no, secrets.phone_passwords[dnc_no])
    phones += [ok, dnc]
    surveys = store(service)
    await asyncio.to_thread(surveys.opt_out, optout_no, "asked on the phone", "popa")
    # Only 10:00-11:00 on the weekday four days ahead (Monday, from the default Thursday
    # evening): the clock starts outside the window, more than the scheduler's look-back
    # before it opens. The window alone decides here: no public holidays or make-up days
    # (those are test_surveys_policy's), whatever the date.
    day = clock().astimezone(settings.tz).date() + timedelta(days=4)
    assert service.surveys is not None
    plain = dataclasses.replace(
        service.surveys.window.calendar,
        days_off=frozenset(),
        extra_workdays=frozenset(),
        statutory=None,
    )
    sched = make_scheduler(
        service,
        ua,
        prompts,
        clock,
        plain,
        window={WINDOW_DAYS[day.weekday()]: "10:00-11:00"},
        holiday_window=None,
    )
    t_ok = await resolved_ticket(service, clock, ok_no)
    t_dnc = await resolved_ticket(service, clock, dnc_no)
    t_out = await resolved_ticket(service, clock, optout_no)
    await sched.tick()
    s_ok = await survey_of(service, t_ok)
    assert s_ok.next_at is not None
    opens = sched.window.next_open(clock())
    assert s_ok.next_at == opens  # moved into the window
    assert opens == datetime.combine(day, time(10), settings.tz)
    assert opens - clock() > LOOKBACK  # a ticket resolved then is surveyed: one clock for all
    assert ((await survey_of(service, t_dnc)).status, (await survey_of(service, t_out)).status) == (
        "skipped",
        "skipped",
    )
    assert "do-not-call" in (await survey_of(service, t_dnc)).reason
    assert "opted out" in (await survey_of(service, t_out)).reason

    # Due but outside the window: nothing dialled, however often the scheduler runs.
    clock.at = opens - timedelta(seconds=1)
    for _ in range(3):
        assert await sched.tick() == []
    # The window opens: the survey rings, the do-not-call number never does.
    clock.at = opens
    await ticks_until_claimed(sched, s_ok.id)
    call = await ok.next_incoming(15)
    await answer_with(call, "2")
    await sched.drain()
    assert (await survey_of(service, t_ok)).result == "basically_satisfied"
    assert (await survey_of(service, t_dnc)).attempts == 0  # never claimed, never dialled
    # Paused by an operator: nothing is dialled even when due and inside the window.
    await asyncio.to_thread(surveys.set_paused, True, "supervisor")
    try:
        t_more = await resolved_ticket(service, clock, ok_no)
        await sched.tick()
        clock.advance(minutes=2)
        assert await sched.tick() == []
        assert (await survey_of(service, t_more)).status == "scheduled"
    finally:
        await asyncio.to_thread(surveys.set_paused, False, "supervisor")
    await ticks_until_claimed(sched, (await survey_of(service, t_more)).id)
    call = await ok.next_incoming(15)
    await answer_with(call, "1")
    await sched.drain()
    more = await survey_of(service, t_more)
    assert more.result == "satisfied", (more, store(service).attempts(more.id))
    assert (await survey_of(service, t_dnc)).attempts == 0


async def test_killed_service_never_calls_a_ticket_twice(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    tmp_path: Path,
    db_url: NewDbUrl,
) -> None:
    """A real ``hotline run`` (external mode, its own SIP stack and database) is SIGKILLed
    while its survey call rings citizen A; ticket B is resolved while it is down. After the
    restart B is called once (due during the downtime) and A never again."""
    import yaml

    from hotline.db.engine import make_engine
    from hotline.tickets.store import TicketStore
    from tests.integration.test_service_restart import ADMIN_PW, Proc, api_up

    a_no, b_no = CITIZENS[5], CITIZENS[6]
    a = await registered_phone(sip, settings, a_no, secrets.phone_passwords[a_no])
    b = await registered_phone(sip, settings, b_no, secrets.phone_passwords[b_no])
    phones += [a, b]
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["pbx"]["mode"] = "external"
    url = db_url("surveys")
    data["database"]["url"] = url
    api_port = free_port()
    data["listen"] = {
        "api_host": "127.0.0.1",
        "api_port": api_port,
        "agi_host": "127.0.0.1",
        "agi_port": free_port(),
    }
    data["asr"]["enabled"] = False
    data["surveys"].update(
        dial=True,
        delay_minutes=0,
        poll_seconds=0.2,
        ring_timeout=20,
        holiday_window="00:00-24:00",
        window={d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        sip={"registrar": f"127.0.0.1:{settings.pbx.embedded.sip_port}"},
    )
    config = tmp_path / "service.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {
        **os.environ,
        "HOTLINE_AMI_SECRET": secrets.ami_secret,
        "HOTLINE_API_SECRET": "survey-restart-signing-key-0123456789",
        "HOTLINE_ADMIN_PASSWORD": ADMIN_PW,
        "HOTLINE_SURVEY_SIP_SECRET": secrets.survey_password,
    }
    proc = Proc(config, env, tmp_path / "service.log")
    engine = make_engine(url)
    surveys = SurveyStore(engine)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:
            await proc.start()
            admin = await api_up(http, proc)
            body = {
                "kind": "complaint",
                "category": "street_lighting",
                "caller_number": a_no,
                "caller_language": "zh",
                "description": "lamp out",
            }
            r = await http.post("/api/tickets", headers=admin, json=body)
            assert r.status_code in (200, 201), r.text
            t_a = r.json()["id"]
            r = await http.post(
                f"/api/tickets/{t_a}/transition",
                headers=admin,
                json={"to": "resolved", "resolution": "repaired"},
            )
            assert r.status_code == 200, r.text
            ringing = await a.next_incoming(30)  # the survey rings A ...
            await proc.kill()  # ... and the service dies mid-call
            await ringing.wait_ended(40)  # the PBX gives up on A after its ring timeout

            # Resolved while the service is down (another instance, a department's system).
            tickets = TicketService(
                settings.tickets,
                TicketStore(engine),
                tz=settings.tz,
                languages=settings.ivr.languages,
            )
            t_b = await resolved_ticket_in(tickets, b_no)
            await proc.start()
            await api_up(http, proc)
            call_b = await b.next_incoming(30)  # due during the downtime: called now, once
            await answer_with(call_b, "1")

            def finished() -> tuple[Survey, Survey] | None:
                sa, sb = surveys.of_ticket(t_a), surveys.of_ticket(t_b)
                if sa and sb and sb.status == "completed" and sa.status == "interrupted":
                    return sa, sb
                return None

            sa, sb = await wait_for(lambda: asyncio.to_thread(finished), 30, "both surveys")
            assert (sb.result, sb.attempts) == ("satisfied", 1)
            assert sa.attempts == 1 and "stopped during the call" in sa.reason
            assert [x.outcome for x in surveys.attempts(sa.id)] == ["interrupted"]
            # The restarted scheduler has dialled B and kept ticking; A is final and not
            # queued: it has no way back to the schedule but an operator's resume.
            later = datetime.now(UTC) + timedelta(days=30)  # real time: a real `hotline run`
            assert surveys.claim(later, 10) == []
            with pytest.raises(TimeoutError):
                await a.next_incoming(1)
    finally:
        await proc.stop()
        engine.dispose()


async def resolved_ticket_in(tickets: TicketService, number: str) -> int:
    detail = await tickets.create(
        SYSTEM,
        {
            "kind": "complaint",
            "category": "street_lighting",
            "caller_number": number,
            "caller_language": "zh",
            "description": "lamp out",
        },
        status="open",
    )
    await tickets.transition(SYSTEM, detail.ticket.id, "resolved", resolution="repaired")
    return detail.ticket.id


async def test_dialling_process_killed_mid_call_ends_the_survey_interrupted(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    prompts: SurveyPrompts,
    clock: Clock,
    phones: list[Phone],
) -> None:
    """The service's own dialer: survey calls in dialling processes. One is SIGKILLed while
    its call rings: the attempt ends ``interrupted`` (final), the next survey gets a new
    process and goes through. The pool counts and times both calls as survey jobs."""
    from prometheus_client import CollectorRegistry

    from hotline.surveys.dial_pool import DialerPool
    from hotline.telemetry.metrics import WorkerMetrics

    registry = CollectorRegistry()

    surveys = service.surveys
    assert surveys is not None
    ring_no, ok_no = CITIZENS[7], CITIZENS[8]
    ringing_phone = await registered_phone(sip, settings, ring_no, secrets.phone_passwords[ring_no])
    ok = await registered_phone(sip, settings, ok_no, secrets.phone_passwords[ok_no])
    phones += [ringing_phone, ok]
    s = surveys.config.model_copy(update={"ring_timeout": 30, **ALWAYS})
    pool = DialerPool(
        s,
        user="survey",
        password=secrets.survey_password,
        registrar=surveys.registrar,
        prompts=prompts,
        recordings_dir=surveys.recordings_dir,
        metrics=WorkerMetrics.on(registry, "survey"),
    )
    window = CallWindow.from_settings(s, surveys.window.calendar)
    sched = SurveyScheduler(s, surveys.store, window, pool, applier_at(service, clock), clock)
    try:
        t_ring = await resolved_ticket(service, clock, ring_no)
        await sched.tick()
        clock.advance(minutes=1, seconds=5)
        survey = await survey_of(service, t_ring)
        await ticks_until_claimed(sched, survey.id)
        call = await ringing_phone.next_incoming(20)
        (proc,) = pool._procs
        proc.worker._proc.kill()  # type: ignore[union-attr]
        await sched.drain()
        s_ring = await survey_of(service, t_ring)
        assert (s_ring.status, s_ring.attempts) == ("interrupted", 1)
        outcomes = [a.outcome for a in await asyncio.to_thread(surveys.store.attempts, s_ring.id)]
        assert outcomes == ["interrupted"]
        await call.wait_ended(40)  # the PBX gives up on the ringing phone by itself

        t_ok = await resolved_ticket(service, clock, ok_no)
        await sched.tick()
        clock.advance(minutes=1, seconds=5)
        await ticks_until_claimed(sched, (await survey_of(service, t_ok)).id)
        await answer_with(await ok.next_incoming(20), "1")
        await sched.drain()
        assert (await survey_of(service, t_ok)).result == "satisfied"
        assert (await survey_of(service, t_ring)).status == "interrupted"
    finally:
        await pool.close()
    for outcome in ("interrupted", "done"):
        labels = {"queue": "survey", "outcome": outcome}
        assert registry.get_sample_value("hotline_worker_jobs_total", labels) == 1
        assert registry.get_sample_value("hotline_worker_job_duration_seconds_count", labels) == 1
    failed = {"queue": "survey", "outcome": "failed"}
    assert registry.get_sample_value("hotline_worker_jobs_total", failed) == 0


async def test_answer_kept_when_the_citizen_hangs_up_during_the_comment_prompt(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    ua: Phone,
    prompts: SurveyPrompts,
    clock: Clock,
    phones: list[Phone],
) -> None:
    """Keys 3, then hangs up while the comment prompt plays: the "dissatisfied" stands (no
    retry, no second call), with no comment recorded."""
    number = CITIZENS[9]
    citizen = await registered_phone(sip, settings, number, secrets.phone_passwords[number])
    phones.append(citizen)
    sched = make_scheduler(service, ua, prompts, clock, **ALWAYS)
    ticket = await resolved_ticket(service, clock, number)
    await sched.tick()
    clock.advance(minutes=1, seconds=5)
    await ticks_until_claimed(sched, (await survey_of(service, ticket)).id)
    call = await citizen.next_incoming(15)
    await call.answer()
    await call.wait_media(10)
    await call.send_dtmf("3")

    def key_heard() -> bool:
        # The survey leg (this process's UA) has the key: the comment prompt (6 s) starts.
        return any(c.dtmf_digits == ["3"] for c in ua.calls)

    await wait_for(key_heard, 5, "the survey to hear the 3")
    await call.hangup()
    await sched.drain()
    s = await survey_of(service, ticket)
    assert (s.status, s.result, s.attempts) == ("completed", "dissatisfied", 1)
    tickets = TicketService(
        settings.tickets, service.tickets, tz=settings.tz, languages=settings.ivr.languages
    )
    assert (await tickets.get(ticket)).ticket.status == "reopened"
