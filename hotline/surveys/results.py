"""A survey's result applied to its ticket: satisfied (or basically) closes a resolved ticket;
dissatisfied reopens it (resolved or already closed) and alerts the supervisors. A spoken
comment is queued for transcription like a call's recording."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from hotline.core.alerts import Alert, SupervisorAlerts
from hotline.jobs.store import QUEUED, SKIPPED, JobStore
from hotline.surveys.store import Survey
from hotline.tickets.service import SYSTEM, TicketService

log = logging.getLogger(__name__)

JOB_PREFIX = "survey-"  # a comment's transcription job: "survey-<id>", beside calls' call_ids
LABELS = {
    "satisfied": "satisfied",
    "basically_satisfied": "basically satisfied",
    "dissatisfied": "dissatisfied",
}


def comment_job(survey_id: int) -> str:
    return f"{JOB_PREFIX}{survey_id}"


class ResultApplier:
    def __init__(
        self,
        tickets: TicketService,
        alerts: SupervisorAlerts,
        jobs: JobStore | None,
        languages_with_model: Iterable[str],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._tickets = tickets
        self._alerts = alerts
        self._jobs = jobs
        self._models = frozenset(languages_with_model)
        self._clock = clock or (lambda: datetime.now(UTC))

    async def __call__(self, survey: Survey) -> None:
        if survey.comment_path and self._jobs is not None:
            await asyncio.to_thread(self._queue_comment, survey)
        if survey.ticket_id is None or survey.result is None:
            return
        ticket = await self._tickets.get(survey.ticket_id)
        status = ticket.ticket.status
        note = f"satisfaction survey {survey.id}: {LABELS.get(survey.result, survey.result)}"
        if survey.result == "dissatisfied":
            if status in ("resolved", "closed"):
                await self._tickets.transition(SYSTEM, survey.ticket_id, "reopened", note=note)
            self._alerts.raise_(
                Alert(
                    "survey.dissatisfied",
                    self._clock(),
                    f"ticket {survey.ticket_id}: the citizen is dissatisfied "
                    f"(survey {survey.id}); reopened from {status}",
                    survey.ticket_id,
                    {
                        "survey_id": survey.id,
                        "agent": survey.agent,
                        "department": survey.department,
                        "category": survey.category,
                    },
                )
            )
        elif status == "resolved":
            await self._tickets.transition(SYSTEM, survey.ticket_id, "closed", note=note)
        else:  # handled meanwhile (closed by the agent, reopened...): the result stays recorded
            log.info(
                "survey %d (%s): ticket %d is %s, left as it is",
                survey.id,
                survey.result,
                survey.ticket_id,
                status,
            )

    def _queue_comment(self, survey: Survey) -> None:
        assert self._jobs is not None and survey.comment_path is not None
        language = survey.language
        has_model = language in self._models
        self._jobs.enqueue(
            comment_job(survey.id),
            {"caller": survey.comment_path},
            language=language,
            # Due at once in real time: the transcription workers' clock (not the applier's,
            # which may be a test's frozen one).
            ivr_kind=None,
            not_before=datetime.now(UTC),
            status=QUEUED if has_model else SKIPPED,
            error="" if has_model else f"no speech model for {language}",
        )
