"""A survey-call worker process on Redis (``hotline worker survey``): the survey user agent
(one pjsua2 stack and registered phone, ``SipDialer`` as in the service's own dialling
processes) places the calls the service's scheduler claimed and handed to the queue, up to the
pjsua2 build's calls per process at once (one dramatiq thread per call).

The claim stays the service's (scheduled → calling, the attempt written before anything is
dialled). Per message (a survey id and its attempt ``n``):

- outside the calling window (the message waited too long) or with the dialler paused, the
  claim goes back on the schedule (nothing was dialled);
- dialling is marked started with a conditional update before the INVITE
  (``SurveyStore.start_dialling``): a message delivered twice never rings the citizen twice for
  one attempt. A duplicate for an attempt another live worker is dialling is dropped; one for
  an attempt whose dialler is gone (its lease ran out) ends the survey ``interrupted``;
- while the call is live the worker renews its lease; at the end it writes the attempt and
  moves the survey on, conditionally (``record_attempt``); the service applies the result to
  the ticket once (``SurveyStore.unapplied`` / ``mark_applied``).

SIGTERM: no new call is taken; live calls may finish for ``jobs.stop_timeout`` s, then they are
hung up and end interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dramatiq import Actor, Worker

from hotline.core.calendar import CalendarSettings, WorkCalendar
from hotline.core.logs import LogSettings, bind, configure_logging, log_context
from hotline.core.signals import ignore_interrupt
from hotline.db.engine import make_engine
from hotline.jobs.broker import SURVEY, QueueConfig, make_broker
from hotline.jobs.patience import Patience, StoreUnavailable
from hotline.surveys.attempt import AttemptResult, job_outcome
from hotline.surveys.config import SurveySettings
from hotline.surveys.dial_pool import CALLS_PER_PROCESS
from hotline.surveys.dialer import DialJob, SipDialer
from hotline.surveys.policy import CALLING, CallWindow
from hotline.surveys.prompts import build_prompts
from hotline.surveys.scheduler import blocked, record_attempt
from hotline.surveys.store import Claim, SurveyStore
from hotline.telemetry.endpoint import MetricsEndpoint, worker_metrics
from hotline.telemetry.metrics import WorkerMetrics
from hotline.transcription.serve import worker_id
from ivr.menu import IvrSettings
from telephony.sip import PhoneConfig, SipStack, allocate_ports

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SurveyWorkerConfig:
    """What a survey worker process needs of the configuration (plain, picklable values built
    by the wiring: the app package's ``workers`` module)."""

    surveys: SurveySettings
    ivr: IvrSettings  # the prompts are made like the IVR's, in its languages
    calendar: CalendarSettings  # the calling window's working days
    tz: ZoneInfo
    database_url: str = field(repr=False)  # a PostgreSQL URL may carry a password
    registrar: str  # the PBX's SIP address (``hotline.surveys.service.registrar_of``)
    log: LogSettings = field(default_factory=LogSettings)  # the service's, in force


@dataclass
class SurveyHandler:
    """The actor's function (in a dramatiq thread); the call itself runs on the event loop."""

    config: SurveySettings
    store: SurveyStore
    window: CallWindow
    dialer: SipDialer
    loop: asyncio.AbstractEventLoop
    patience: Patience
    dialler: str
    metrics: WorkerMetrics  # each call placed: counted by outcome and timed

    def __post_init__(self) -> None:
        self._live: dict[int, asyncio.Task[str]] = {}

    def __call__(self, survey_id: int, n: int) -> None:
        future = asyncio.run_coroutine_threadsafe(self._run(survey_id, n), self.loop)
        outcome = future.result()
        with log_context(survey=survey_id):
            log.info("survey %d attempt %d: %s", survey_id, n, outcome)

    async def _run(self, survey_id: int, n: int) -> str:
        task = asyncio.current_task()
        assert task is not None
        bind(survey=survey_id)  # this call's own task: its lines (and the lease's) carry it
        self._live[survey_id] = task
        try:
            return await self.handle(survey_id, n)
        except StoreUnavailable as exc:
            return f"left: database unreachable while stopping ({exc})"
        finally:
            self._live.pop(survey_id, None)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """A store call in a thread, waiting for the database while it is unreachable."""
        return await asyncio.to_thread(self.patience, fn, *args)

    async def handle(self, survey_id: int, n: int) -> str:
        s = self.config
        now = datetime.now(UTC)
        if not self.window.inside(now) or await self._db(self.store.paused):
            why = "outside the calling window" if not self.window.inside(now) else "paused"
            if await self._db(self.store.unclaim, survey_id, n, f"not dialled: {why}"):
                return f"{why}: back on the schedule, not dialled"
        claim = await self._db(
            self.store.start_dialling, survey_id, n, self.dialler, s.lease_seconds
        )
        if claim is None:
            return await self._not_started(survey_id, n)
        bind(call_id=claim.survey.call_id)  # the call it follows, when call-triggered
        keep = asyncio.create_task(self._keep_lease(survey_id))
        started = time.monotonic()
        try:
            result = await self._dial(claim)
        except asyncio.CancelledError:
            # Stopping: hung up. Final, so a redelivered message never rings again.
            self.metrics.job("interrupted", time.monotonic() - started)
            why = "its survey worker stopped during the call; not dialled again"
            await self._db(self.store.interrupt, survey_id, n, why)
            raise
        finally:
            keep.cancel()
        self.metrics.job(job_outcome(result), time.monotonic() - started)
        stored = await self._db(
            record_attempt, s, self.window, self.store, claim, result, datetime.now(UTC)
        )
        outcome = result.result or result.outcome
        return f"dialled: {outcome}" + ("" if stored else " (not stored: no longer calling)")

    async def _dial(self, claim: Claim) -> AttemptResult:
        reason = await self._db(blocked, self.config, self.store, claim.survey.number)
        if reason:  # checked again at dialling: the list or an opt-out may have changed
            return AttemptResult("skipped", detail=reason)
        try:
            return await self.dialer.run(DialJob.of(claim))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded as a failed attempt, as the service's dialer does
            log.exception("survey %d: the call failed", claim.survey.id)
            return AttemptResult("failed", detail=f"dialer error: {exc}")

    async def _not_started(self, survey_id: int, n: int) -> str:
        survey = await self._db(self.store.get, survey_id)
        if survey is None:
            return "no such survey, dropped"
        if survey.status != CALLING or survey.attempts != n:
            return f"attempt {n} is over ({survey.status}), dropped"
        lease = survey.lease_until
        if lease is not None and lease > datetime.now(UTC):
            return f"being dialled by {survey.dialler}, dropped (a duplicate message)"
        # Started by a dialler that is gone: the citizen may have been rung. Never again.
        reason = (
            f"its dialler ({survey.dialler}) stopped during the call; not dialled again "
            "(its message came back)"
        )
        if await self._db(partial(self.store.interrupt, if_abandoned=True), survey_id, n, reason):
            return f"already started by {survey.dialler}, which stopped: interrupted, not dialled"
        return "moved on meanwhile, dropped"

    async def _keep_lease(self, survey_id: int) -> None:
        lease = self.config.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            held = await self._db(self.store.renew, [survey_id], self.dialler, lease)
            if not held:
                log.warning("survey %d: lease lost (interrupted or cancelled meanwhile)", survey_id)
                return

    async def hang_up_all(self) -> None:
        """Stopping after the grace period: the calls still up are hung up (interrupted)."""
        tasks = list(self._live.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def serve(
    cfg: SurveyWorkerConfig,
    password: str,
    queue: QueueConfig,
    metrics: MetricsEndpoint | None = None,
) -> None:
    """A survey worker process's main: dial until SIGTERM, then stop cleanly. ``metrics``:
    this process's Prometheus endpoint (None: none)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    ignore_interrupt()  # the parent turns Ctrl-C into SIGTERM
    me = worker_id()
    configure_logging(cfg.log, process=me)
    recordings = Path(cfg.surveys.recordings_dir).resolve()
    with worker_metrics("survey", metrics) as observed:
        asyncio.run(_serve(cfg, password, queue, stopping, me, recordings, observed))


async def _serve(
    cfg: SurveyWorkerConfig,
    password: str,
    queue: QueueConfig,
    stopping: threading.Event,
    me: str,
    recordings: Path,
    metrics: WorkerMetrics,
) -> None:
    s = cfg.surveys
    stop = asyncio.Event()

    def on_sigterm() -> None:
        stopping.set()  # for the threads waiting on the database
        stop.set()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    if stopping.is_set():  # SIGTERM before the loop ran
        stop.set()
    registrar = cfg.registrar
    prompts = await asyncio.to_thread(build_prompts, s, cfg.ivr)
    db = make_engine(cfg.database_url)
    store = SurveyStore(db)
    calendar = WorkCalendar.from_settings(cfg.calendar, cfg.tz)
    window = CallWindow.from_settings(s, calendar)
    broker = make_broker(queue)
    try:
        async with SipStack(log_level=1) as stack:
            ports = allocate_ports(1, low=21000, high=30000)[0]
            phone = await stack.add_phone(
                PhoneConfig(
                    s.sip.user,
                    sip_port=ports.sip_port,
                    rtp_port=ports.rtp_port,
                    registrar=f"sip:{registrar}",
                    password=password,
                    bind=s.sip.bind,
                    domain=registrar.rpartition(":")[0],
                )
            )
            await phone.wait_registered(15)
            dialer = SipDialer(phone, registrar, s, prompts, recordings)
            handler = SurveyHandler(s, store, window, dialer, loop, Patience(stopping), me, metrics)
            Actor(
                handler, broker=broker, actor_name=SURVEY, queue_name=SURVEY, priority=0, options={}
            )
            calls = min(stack.max_calls, CALLS_PER_PROCESS)
            worker = Worker(broker, queues={SURVEY}, worker_threads=calls)
            worker.queue_prefetch, worker.delay_prefetch = calls, 100
            worker.start()
            log.info(
                "survey worker ready: registered as %s at %s, %d call(s) at once",
                s.sip.user,
                registrar,
                calls,
            )
            await stop.wait()
            log.info("stopping: live calls may finish (up to %.0f s)", queue.stop_timeout)
            await asyncio.to_thread(worker.stop, int(queue.stop_timeout * 1000))
            await handler.hang_up_all()
            await phone.close()
    finally:
        broker.client.close()
        db.dispose()
    log.info("survey worker stopped")
