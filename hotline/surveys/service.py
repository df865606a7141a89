"""Wiring of the survey feature: store, calling window, result applier, and (when this
instance dials) the scheduler with its dialling processes, or, with ``jobs.engine: redis``,
the scheduler handing each claimed call to the queue for ``hotline worker survey``
processes (``hotline.surveys.worker``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hotline.core.alerts import SupervisorAlerts
from hotline.core.logs import LogSettings
from hotline.jobs.store import Job, JobStore
from hotline.surveys.config import SurveySettings
from hotline.surveys.dial_pool import DialerPool
from hotline.surveys.policy import CallWindow
from hotline.surveys.prompts import build_prompts
from hotline.surveys.results import JOB_PREFIX, ResultApplier
from hotline.surveys.scheduler import SurveyScheduler
from hotline.surveys.store import Claim, SurveyStore
from hotline.telemetry.metrics import WorkerMetrics
from hotline.tickets.service import TicketService
from hotline.transcription.service import transcript_text
from ivr.menu import IvrSettings
from telephony.settings import PbxSettings

if TYPE_CHECKING:
    from hotline.jobs.broker import QueueConfig

log = logging.getLogger(__name__)


@dataclass
class Surveys:
    config: SurveySettings
    store: SurveyStore
    window: CallWindow
    applier: ResultApplier
    clock: Callable[[], datetime]
    recordings_dir: Path
    # The IVR's languages and prompt folder: the survey's prompts are made like the IVR's.
    ivr: IvrSettings
    # The PBX's SIP address the survey user agent registers with (``registrar_of``).
    registrar: str
    # The survey user agent's SIP password ("": not dialled, the service says so).
    password: str = field(default="", repr=False)
    # ``jobs.engine: redis``: the queue calls are handed to ``hotline worker survey`` through.
    queue: QueueConfig | None = None
    scheduler: SurveyScheduler | None = None
    # The service's logging settings in force, for its dialling processes.
    log: LogSettings | None = None
    # The calls this instance's dialling processes place (None: not kept).
    dial_metrics: WorkerMetrics | None = None

    @classmethod
    def build(
        cls,
        config: SurveySettings,
        engine: Engine,
        tickets: TicketService,
        alerts: SupervisorAlerts,
        jobs: JobStore | None,
        *,
        ivr: IvrSettings,
        registrar: str,
        password: str,
        queue: QueueConfig | None,
        comment_languages: Collection[str] = (),
        log: LogSettings | None = None,
        dial_metrics: WorkerMetrics | None = None,
    ) -> Surveys:
        """``jobs`` (None: transcription is off): spoken comments in ``comment_languages``
        (those with a speech model) are transcribed. ``dial_metrics``: the calls placed by this
        instance's dialling processes, counted and timed."""
        window = CallWindow.from_settings(config, tickets.calendar)
        applier = ResultApplier(tickets, alerts, jobs, comment_languages if jobs else ())
        store = SurveyStore(engine)
        recordings = Path(config.recordings_dir).resolve()
        return cls(
            config,
            store,
            window,
            applier,
            lambda: datetime.now(UTC),
            recordings,
            ivr=ivr,
            registrar=registrar,
            password=password,
            queue=queue,
            log=log,
            dial_metrics=dial_metrics,
        )

    async def run(self) -> None:
        s = self.config
        if not s.dial:
            log.info("surveys: this instance schedules but does not dial (surveys.dial: false)")
            return
        if self.queue is not None:
            await self._run_over_redis(self.queue)
            return
        if not self.password:
            log.error(
                "surveys are not dialled: environment variable %s (the survey user "
                "agent's SIP password) is not set",
                s.sip.password_env,
            )
            return
        prompts = await asyncio.to_thread(build_prompts, s, self.ivr)
        dialer = DialerPool(
            s,
            user=s.sip.user,
            password=self.password,
            registrar=self.registrar,
            prompts=prompts,
            recordings_dir=self.recordings_dir,
            log=self.log,
            metrics=self.dial_metrics,
        )
        self.scheduler = SurveyScheduler(
            s, self.store, self.window, dialer, self.applier, self.clock
        )
        try:
            await self.scheduler.run()
        finally:
            await dialer.close()

    async def _run_over_redis(self, queue: QueueConfig) -> None:
        from hotline.jobs.broker import Publisher

        publisher = Publisher.connect(queue)
        log.info("surveys: calls are handed to `hotline worker survey` processes through Redis")

        def publish(claim: Claim) -> None:
            publisher.survey(claim.survey.id, claim.n)

        self.scheduler = SurveyScheduler(
            self.config,
            self.store,
            self.window,
            None,
            self.applier,
            self.clock,
            publish=publish,
        )
        try:
            await self.scheduler.run()
        finally:
            publisher.close()

    def owns(self, job: Job) -> bool:
        return job.call_id.startswith(JOB_PREFIX)

    async def deliver_comment(self, job: Job) -> None:
        """A comment's transcript (or why there is none) onto its survey."""
        survey_id = int(job.call_id.removeprefix(JOB_PREFIX))
        text = transcript_text(job.transcript) if job.transcript else f"({job.error})"
        await asyncio.to_thread(self.store.set_comment_text, survey_id, text)
        log.info("survey %d: comment transcribed (%d characters)", survey_id, len(text))


def registrar_of(config: SurveySettings, primary: PbxSettings) -> str:
    """The PBX's SIP address the survey user agent registers with (``surveys.sip.registrar``,
    else the primary PBX's embedded SIP address: survey callbacks go out through it)."""
    sip = config.sip
    if sip.registrar:
        return sip.registrar
    emb = primary.embedded
    return f"{emb.bind}:{emb.sip_port}"
