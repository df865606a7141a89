"""Wiring of the survey feature: store, calling window, result applier, and (when this
instance dials) the scheduler with its dialling processes, or, with ``jobs.engine: redis``,
the scheduler handing each claimed call to the queue for ``hotline worker survey``
processes (``hotline.surveys.worker``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from hotline.app.settings import Secrets, Settings
from hotline.core.alerts import SupervisorAlerts
from hotline.jobs.store import Job, JobStore
from hotline.surveys.dial_pool import DialerPool
from hotline.surveys.policy import CallWindow
from hotline.surveys.prompts import build_prompts
from hotline.surveys.results import JOB_PREFIX, ResultApplier
from hotline.surveys.scheduler import SurveyScheduler
from hotline.surveys.store import Claim, SurveyStore
from hotline.tickets.service import TicketService
from hotline.transcription.service import transcript_text

log = logging.getLogger(__name__)


@dataclass
class Surveys:
    settings: Settings
    secrets: Secrets
    store: SurveyStore
    window: CallWindow
    applier: ResultApplier
    clock: Callable[[], datetime]
    recordings_dir: Path
    scheduler: SurveyScheduler | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        secrets: Secrets,
        engine: Engine,
        tickets: TicketService,
        alerts: SupervisorAlerts,
        jobs: JobStore | None,
    ) -> Surveys:
        window = CallWindow.from_settings(settings.surveys, tickets.calendar)
        applier = ResultApplier(tickets, alerts, jobs, settings.asr.models if jobs else ())
        store = SurveyStore(engine)
        recordings = Path(settings.surveys.recordings_dir).resolve()
        return cls(settings, secrets, store, window, applier, lambda: datetime.now(UTC),
                   recordings)  # fmt: skip

    @property
    def registrar(self) -> str:
        return registrar_of(self.settings)

    async def run(self) -> None:
        s = self.settings.surveys
        if not s.dial:
            log.info("surveys: this instance schedules but does not dial (surveys.dial: false)")
            return
        if self.settings.jobs.engine == "redis":
            await self._run_over_redis()
            return
        if not self.secrets.survey_password:
            log.error("surveys are not dialled: environment variable %s (the survey user "
                      "agent's SIP password) is not set", s.sip.password_env)  # fmt: skip
            return
        prompts = await asyncio.to_thread(build_prompts, self.settings)
        dialer = DialerPool(
            s, user=s.sip.user, password=self.secrets.survey_password,
            registrar=self.registrar, prompts=prompts, recordings_dir=self.recordings_dir,
        )  # fmt: skip
        self.scheduler = SurveyScheduler(
            s, self.store, self.window, dialer, self.applier, self.clock
        )
        try:
            await self.scheduler.run()
        finally:
            await dialer.close()

    async def _run_over_redis(self) -> None:
        from hotline.jobs.broker import Publisher, QueueConfig

        queue = QueueConfig.from_settings(self.settings.jobs, self.secrets.redis_url)
        publisher = Publisher.connect(queue)
        log.info("surveys: calls are handed to `hotline worker survey` processes through Redis")

        def publish(claim: Claim) -> None:
            publisher.survey(claim.survey.id, claim.n)

        self.scheduler = SurveyScheduler(
            self.settings.surveys, self.store, self.window, None, self.applier, self.clock,
            publish=publish,
        )  # fmt: skip
        try:
            await self.scheduler.run()
        finally:
            publisher.close()

    def owns(self, job: Job) -> bool:
        return job.linkedid.startswith(JOB_PREFIX)

    async def deliver_comment(self, job: Job) -> None:
        """A comment's transcript (or why there is none) onto its survey."""
        survey_id = int(job.linkedid.removeprefix(JOB_PREFIX))
        text = transcript_text(job.transcript) if job.transcript else f"({job.error})"
        await asyncio.to_thread(self.store.set_comment_text, survey_id, text)
        log.info("survey %d: comment transcribed (%d characters)", survey_id, len(text))


def registrar_of(settings: Settings) -> str:
    """The PBX's SIP address the survey user agent registers with."""
    sip = settings.surveys.sip
    if sip.registrar:
        return sip.registrar
    emb = settings.pbx.embedded
    return f"{emb.bind}:{emb.sip_port}"
