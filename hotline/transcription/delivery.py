"""Where a finished transcription goes (``Transcription.deliver``), once per job.

* A survey's spoken comment (a job of the survey feature, ``Surveys.owns``): its text goes onto
  the survey, nothing else.
* A call's transcript: the agent's screen-pop for that call gets it in the ticket draft, with
  the fields the analysis suggests (the agent sees them at once, if the pop still shows the
  call), and every ticket linked to the call keeps the transcript. A ticket that refuses it
  (closed meanwhile, say) is logged and skipped: the job keeps the transcript.

How long after the hang-up each arrives is timed from the job's creation: the job is created as
the call's end is stored, within a fraction of a second of the hang-up (the AMI event → stored
histogram tells how long), on the service's own clock as the delivery is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from hotline.core.auth import Principal
from hotline.core.errors import DomainError
from hotline.jobs.store import Job
from hotline.telemetry.metrics import UNOBSERVED, Observer
from hotline.tickets.service import SYSTEM
from hotline.transcription.service import transcript_text

log = logging.getLogger(__name__)


class Comments(Protocol):
    """The survey feature's side (``hotline.surveys.service.Surveys``)."""

    def owns(self, job: Job) -> bool: ...

    async def deliver_comment(self, job: Job) -> None: ...


class Pops(Protocol):
    """The screen-pop's side (``hotline.screenpop.service.ScreenPop``)."""

    def update(self, call_id: str, draft: dict[str, Any]) -> bool: ...


class CallTickets(Protocol):
    """Which tickets a call is linked to (``TicketStore``; blocking, run in a thread)."""

    def tickets_of_call(self, call_id: str) -> list[int]: ...


class TicketUpdates(Protocol):
    """Ticket changes under the lifecycle's rules (``TicketService``)."""

    async def update(self, who: Principal, ticket_id: int, values: dict[str, Any]) -> object: ...


@dataclass
class TranscriptDelivery:
    pops: Pops
    calls: CallTickets
    tickets: TicketUpdates
    comments: Comments | None = None  # None: surveys are off
    # Told the seconds from the hang-up (the job's creation) to the transcript on the call's
    # tickets, and to the draft on the agent's pop (only when a pop still shows the call).
    to_transcript: Observer = field(default=UNOBSERVED, kw_only=True)
    to_draft: Observer = field(default=UNOBSERVED, kw_only=True)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), kw_only=True)

    def _since_hangup(self, job: Job) -> float:
        return max(0.0, (self.now() - job.created_at).total_seconds())

    async def __call__(self, job: Job) -> None:
        if self.comments is not None and self.comments.owns(job):  # a survey's spoken comment
            await self.comments.deliver_comment(job)
            return
        # The agent sees the transcript and the system's suggestions in the draft at once;
        # the call's tickets keep the transcript.
        fields = (job.draft or {}).get("ticket_fields") or {}
        shown = self.pops.update(
            job.call_id,
            {
                "transcript": transcript_text(job.transcript),
                "transcript_json": job.transcript,
                "suggested": fields,
                "analysis": job.draft,
            },
        )
        if shown:
            self.to_draft.observe(self._since_hangup(job))
        for ticket_id in await asyncio.to_thread(self.calls.tickets_of_call, job.call_id):
            try:
                await self.tickets.update(SYSTEM, ticket_id, {"transcript": job.transcript})
            except DomainError as exc:  # e.g. closed meanwhile: the job keeps the transcript
                log.warning(
                    "transcript of %s not put on ticket %s: %s", job.call_id, ticket_id, exc.message
                )
        self.to_transcript.observe(self._since_hangup(job))
