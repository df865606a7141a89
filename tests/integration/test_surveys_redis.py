"""Survey calls over Redis and diallers' leases, with real calls on the session's Asterisk
(citizens are pjsua2 phones registered with it), a private redis-server and a database of the
tests' own (no other test's surveys are dialled here).

Shown: the scheduler claims (the attempt written) and hands the call to ``hotline worker
survey``, which places it; a duplicate message while the call is live, or after it, rings
nobody; a worker SIGKILLed mid-call leaves its message unacknowledged, and when it comes back
the attempt, already started by a dialler that is gone, ends ``interrupted`` instead of ringing
the citizen again; with Redis down nothing is claimed for good, and a claim no worker starts
goes back on the schedule; a newly started scheduler (a standby become active) leaves another
dialler's live call alone and interrupts only a call whose dialler's lease ran out.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.app.settings import Secrets, Settings
from hotline.core.alerts import SupervisorAlerts
from hotline.db.engine import make_engine, migrate
from hotline.jobs.broker import Publisher, QueueConfig
from hotline.jobs.config import JobsSettings
from hotline.surveys.dialer import SipDialer, SurveyPrompts
from hotline.surveys.policy import CallWindow
from hotline.surveys.results import ResultApplier
from hotline.surveys.scheduler import SurveyScheduler
from hotline.surveys.store import Claim, Survey, SurveyStore
from hotline.tickets.service import SYSTEM, TicketService
from hotline.tickets.store import TicketStore
from telephony.asterisk.process import PrivateAsterisk
from telephony.sip import Phone, SipStack
from testkit.clock import Clock
from testkit.redis_server import PrivateRedis, private_redis
from testkit.support import NewDbUrl, free_port, labels, scrape_metrics, wait_for
from tests.integration.conftest import CITIZENS
from tests.integration.test_redis_workers import WorkerCli
from tests.integration.test_surveys_calls import (
    ALWAYS,
    answer_with,
    prompts,  # noqa: F401  (a fixture)
    registered_phone,
)

LEASE = 3.0  # seconds: a dialler renews every third of it (the PBX rings for 6 s)
FAST = {"lease": 3, "heartbeat_timeout": 6, "maintenance_chance": 1.0, "stop_timeout": 20}


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@dataclass
class World:
    """A database of this test's own, with what the service's survey side builds on it."""

    url: str
    settings: Settings
    tickets: TicketService
    store: SurveyStore
    window: CallWindow
    applier: ResultApplier


@pytest.fixture
async def world(pbx: PrivateAsterisk, settings: Settings, db_url: NewDbUrl) -> AsyncIterator[World]:
    url = db_url("surveys_redis")
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    data = settings.model_dump(mode="json")
    data["database"] = {"url": url}
    data["asr"]["enabled"] = False
    data["surveys"].update(
        ALWAYS,
        dial=True,
        lease_seconds=LEASE,
        dispatch_seconds=3,
        ring_timeout=20,
        sip={"registrar": f"127.0.0.1:{settings.pbx.embedded.sip_port}"},
    )
    mine = Settings.model_validate(data)
    tickets = TicketService(
        mine.tickets, TicketStore(engine), tz=mine.tz, languages=mine.ivr.languages
    )
    window = CallWindow.from_settings(mine.surveys, tickets.calendar)
    applier = ResultApplier(tickets, SupervisorAlerts(), None, ())
    yield World(url, mine, tickets, SurveyStore(engine), window, applier)
    engine.dispose()


def scheduler(
    world: World, clock: Clock, *, publish: Any = None, dialer: Any = None, dialler: str
) -> SurveyScheduler:
    return SurveyScheduler(
        world.settings.surveys,
        world.store,
        world.window,
        dialer,
        world.applier,
        clock,
        publish=publish,
        dialler=dialler,
    )


async def resolved(world: World, number: str) -> int:
    detail = await world.tickets.create(
        SYSTEM,
        {
            "kind": "complaint",
            "category": "street_lighting",
            "caller_number": number,
            "caller_language": "en",
            "description": "street light broken",
            "handler": "popa",
        },
        status="open",
    )
    tid = detail.ticket.id
    await world.tickets.transition(SYSTEM, tid, "resolved", resolution="repaired")
    return tid


async def due_survey(world: World, sched: SurveyScheduler, clock: Clock, ticket: int) -> Survey:
    """The ticket's survey, created by a tick and due (the clock moved past the delay)."""
    await sched.tick()
    clock.advance(minutes=1, seconds=5)
    survey = await asyncio.to_thread(world.store.of_ticket, ticket)
    assert survey is not None
    return survey


async def claimed(sched: SurveyScheduler, survey_id: int) -> Claim:
    async def probe() -> Claim | None:
        return next((c for c in await sched.tick() if c.survey.id == survey_id), None)

    return await wait_for(probe, 20, f"survey {survey_id} claimed")


def _status(world: World, survey_id: int, status: str) -> Survey | None:
    survey = world.store.get(survey_id)
    return survey if survey is not None and survey.status == status else None


def _publisher(redis: PrivateRedis, namespace: str) -> Publisher:
    jobs = JobsSettings.model_validate({"engine": "redis", "namespace": namespace, **FAST})
    return Publisher.connect(QueueConfig.from_settings(jobs, redis.url))


async def test_survey_calls_through_a_redis_worker_ring_each_citizen_once_per_attempt(
    world: World,
    redis_server: PrivateRedis,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
    tmp_path: Path,
) -> None:
    happy_no, ringing_no = CITIZENS[10], CITIZENS[9]
    happy = await registered_phone(sip, settings, happy_no, secrets.phone_passwords[happy_no])
    ringing = await registered_phone(sip, settings, ringing_no, secrets.phone_passwords[ringing_no])
    phones += [happy, ringing]
    data = world.settings.model_dump(mode="json")
    data["jobs"] = {"engine": "redis", "namespace": "surveys", **FAST}
    config = tmp_path / "worker.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    metrics_port = free_port()
    workers = WorkerCli(
        config,
        1,
        redis_server.url,
        tmp_path / "workers.log",
        kind="survey",
        env={"HOTLINE_SURVEY_SIP_SECRET": secrets.survey_password},
        options=["--metrics-port", str(metrics_port)],
    )
    publisher = _publisher(redis_server, "surveys")
    clock = Clock(datetime.now(UTC))

    def publish(claim: Claim) -> None:
        publisher.survey(claim.survey.id, claim.n)

    sched = scheduler(world, clock, publish=publish, dialler="service-a")
    try:
        await wait_for(lambda: workers.count("survey worker ready") == 1, 120, "worker ready")
        # The tickets are resolved on the real clock: the test's clock starts from now, not
        # from before the worker's start (a slow start would leave the survey never due).
        clock.at = datetime.now(UTC)
        # 1. Dialled by the worker; a duplicate while it is live, and one after, ring nobody.
        ticket = await resolved(world, happy_no)
        survey = await due_survey(world, sched, clock, ticket)
        claim = await claimed(sched, survey.id)
        call = await happy.next_incoming(30)
        live = await asyncio.to_thread(world.store.get, survey.id)
        assert live is not None and live.dialler is not None and live.dialled_at is not None
        await asyncio.to_thread(publisher.survey, survey.id, claim.n)  # a duplicate message
        await wait_for(
            lambda: workers.count("dropped \\(a duplicate message\\)") == 1,
            30,
            "the duplicate dropped",
        )
        await answer_with(call, "1")
        done = await wait_for(
            lambda: asyncio.to_thread(_status, world, survey.id, "completed"),
            30,
            "the answer stored",
        )
        assert (done.result, done.attempts, done.dialler) == ("satisfied", 1, None)
        await asyncio.to_thread(publisher.survey, survey.id, claim.n)  # a late one
        await wait_for(
            lambda: workers.count(r"attempt 1 is over \(completed\)") == 1,
            30,
            "the late message dropped",
        )
        with pytest.raises(TimeoutError):
            await happy.next_incoming(2)  # rung once
        # The worker process's own endpoint: one call placed (the duplicate and the late
        # message placed none), counted and timed.
        got = await asyncio.to_thread(scrape_metrics, f"http://127.0.0.1:{metrics_port}/metrics")
        placed = labels(queue="survey", outcome="done")
        assert got[("hotline_worker_jobs_total", placed)] == 1
        assert got[("hotline_worker_job_duration_seconds_count", placed)] == 1
        await sched.tick()  # the service applies the result to the ticket, once
        assert (await world.tickets.get(ticket)).ticket.status == "closed"
        assert (await asyncio.to_thread(world.store.get, survey.id)).applied  # type: ignore[union-attr]

        # 2. The worker is SIGKILLed while the citizen's phone rings: its message comes back
        # (dramatiq: the dead worker's heartbeat timed out), and the attempt, already
        # started, ends interrupted: the citizen is not rung again. No scheduler tick here:
        # the worker alone decides.
        ticket2 = await resolved(world, ringing_no)
        survey2 = await due_survey(world, sched, clock, ticket2)
        await claimed(sched, survey2.id)
        first = await ringing.next_incoming(30)
        dialling = await asyncio.to_thread(world.store.get, survey2.id)
        assert dialling is not None and dialling.dialler is not None
        pid = int(dialling.dialler.rsplit("-", 1)[1])
        os.kill(pid, signal.SIGKILL)
        await wait_for(
            lambda: workers.count("which stopped: interrupted, not dialled") == 1,
            90,
            "the redelivered message",
        )
        await first.wait_ended(40)
        with pytest.raises(TimeoutError):
            await ringing.next_incoming(3)  # never rung again for this attempt
        gone = await asyncio.to_thread(world.store.get, survey2.id)
        assert gone is not None and (gone.status, gone.attempts) == ("interrupted", 1)
        assert "its message came back" in gone.reason
        attempts = await asyncio.to_thread(world.store.attempts, survey2.id)
        assert [a.outcome for a in attempts] == ["interrupted"]
    finally:
        status = await asyncio.to_thread(workers.stop)
        publisher.close()
        await sched.stop()
    log = workers.text()
    assert status == 0, log[-3000:]
    assert f"worker process {pid} exited (code -9)" in log
    assert redis_server.password not in log and secrets.survey_password not in log


async def test_with_redis_down_claims_go_back_and_an_unstarted_claim_is_rescheduled(
    world: World, redis_server: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = _publisher(redis_server, "down")
    clock = Clock(datetime.now(UTC))

    def publish(claim: Claim) -> None:
        publisher.survey(claim.survey.id, claim.n)

    sched = scheduler(world, clock, publish=publish, dialler="service-b")
    ticket = await resolved(world, CITIZENS[10])
    survey = await due_survey(world, sched, clock, ticket)
    redis_server.stop()
    try:
        assert await sched.tick() == []  # the queue did not take it: back on the schedule
        back = await asyncio.to_thread(world.store.get, survey.id)
        assert back is not None and (back.status, back.attempts) == ("scheduled", 0)
        assert await asyncio.to_thread(world.store.attempts, survey.id) == []
        assert await sched.tick() == []  # still down: said once
    finally:
        redis_server.start()
    (handed,) = await sched.tick()  # back: handed to the queue
    queued = await asyncio.to_thread(world.store.get, survey.id)
    assert queued is not None and queued.status == "calling" and queued.dialled_at is None

    # No worker takes it: after dispatch_seconds the sweep (each tick's first step) puts it
    # back on the schedule, not dialled.
    async def put_back() -> bool:
        return survey.id in (await asyncio.to_thread(world.store.sweep)).unclaimed

    await wait_for(put_back, 30, "the unstarted claim put back", interval=0.5)
    back = await asyncio.to_thread(world.store.get, survey.id)
    assert back is not None and (back.status, back.attempts) == ("scheduled", 0)
    assert "no survey worker started the call in time" in back.reason
    assert await asyncio.to_thread(world.store.attempts, survey.id) == []
    outage = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(outage) == 1
    await asyncio.to_thread(world.store.cancel, survey.id, "test over")
    publisher.close()
    assert handed.n == 1


async def test_a_new_active_scheduler_leaves_a_live_call_alone_and_interrupts_an_abandoned_one(
    world: World,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    prompts: SurveyPrompts,  # noqa: F811
    phones: list[Phone],
) -> None:
    number = CITIZENS[10]
    citizen = await registered_phone(sip, settings, number, secrets.phone_passwords[number])
    ua = await registered_phone(sip, settings, "survey", secrets.survey_password)
    phones += [citizen, ua]
    s = world.settings.surveys
    recordings = Path(s.recordings_dir)
    dialer = SipDialer(ua, f"127.0.0.1:{settings.pbx.embedded.sip_port}", s, prompts, recordings)
    clock = Clock(datetime.now(UTC))
    active = scheduler(world, clock, dialer=dialer, dialler="instance-a")
    ticket = await resolved(world, number)
    survey = await due_survey(world, active, clock, ticket)
    await claimed(active, survey.id)
    call = await citizen.next_incoming(30)
    first = await asyncio.to_thread(world.store.get, survey.id)
    assert first is not None and first.lease_until is not None and first.dialler == "instance-a"

    def renewed() -> bool:
        now = world.store.get(survey.id)
        assert now is not None and now.lease_until is not None and first.lease_until is not None
        return (now.lease_until - first.lease_until).total_seconds() >= LEASE

    # The call stays up longer than a lease: its dialler keeps renewing it.
    await wait_for(lambda: asyncio.to_thread(renewed), 30, "the lease renewed")
    standby = scheduler(world, clock, dialer=dialer, dialler="instance-b")  # now active
    await standby.start()
    await standby.tick()
    still = await asyncio.to_thread(world.store.get, survey.id)
    assert still is not None and still.status == "calling"  # left alone: its dialler is alive
    await answer_with(call, "2")
    await active.drain()
    done = await asyncio.to_thread(world.store.get, survey.id)
    assert done is not None and (done.status, done.result) == ("completed", "basically_satisfied")

    # A dialler that claimed a call and died (its lease never renewed): interrupted by the
    # newly active scheduler's sweep once the lease is over, never dialled again.
    ticket2 = await resolved(world, number)
    survey2 = await due_survey(world, standby, clock, ticket2)
    (dead,) = await asyncio.to_thread(
        world.store.claim, clock(), 1, dialler="instance-x", lease=0.5
    )
    assert dead.survey.id == survey2.id

    async def swept() -> Survey | None:
        await standby.tick()
        return await asyncio.to_thread(_status, world, survey2.id, "interrupted")

    await wait_for(swept, 10, "the abandoned call interrupted")
    gone = await asyncio.to_thread(world.store.get, survey2.id)
    assert gone is not None and "its dialler (instance-x) stopped during the call" in gone.reason
    assert [a.outcome for a in await asyncio.to_thread(world.store.attempts, survey2.id)] == [
        "interrupted"
    ]
    await active.stop()
