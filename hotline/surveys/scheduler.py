"""The survey scheduler: finds what needs a survey, and dials what is due, inside the window,
within the caps, never twice.

Each ``tick``:

1. new surveys for tickets resolved (and, if configured, answered calls of chosen kinds)
   since ``lookback`` without one, due ``delay_minutes`` later, moved into the window; a
   number on the do-not-call list or opted out gets a ``skipped`` survey (never dialled);
2. results not yet applied to their tickets are applied (``apply``: closed as satisfied,
   reopened when dissatisfied);
3. unless paused or outside the window: due surveys are claimed (``SurveyStore.claim``: the
   attempt is committed before the call) up to the free concurrent slots and the pacing
   budget, and each is dialled in its own task.

The clock is injected: tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from hotline.store.surveys import Candidate, Claim, Survey, SurveyStore
from hotline.surveys.attempt import AttemptResult, Dialer
from hotline.surveys.config import SurveySettings
from hotline.surveys.policy import SKIPPED, CallWindow, Next, after_attempt

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=2)  # triggers older than this when first seen are not surveyed


class SurveyScheduler:
    def __init__(
        self,
        settings: SurveySettings,
        store: SurveyStore,
        window: CallWindow,
        dialer: Dialer,
        apply: Callable[[Survey], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.store = store
        self.window = window
        self._dialer = dialer
        self._apply = apply
        self._clock = clock
        self._calls: dict[int, asyncio.Task[None]] = {}  # survey id → its call
        self._tokens = self._capacity
        self._refilled: datetime | None = None
        self.started = False
        self._applying = asyncio.Lock()  # a result is applied once, however many ask

    @property
    def _capacity(self) -> float:
        return max(1.0, min(float(self.settings.max_concurrent), self.settings.rate_per_minute))

    @property
    def in_progress(self) -> int:
        return len(self._calls)

    async def start(self) -> None:
        """Once, before the first tick: surveys left ``calling`` by a stopped service."""
        ids = await asyncio.to_thread(self.store.interrupt_calling, self._clock())
        if ids:
            log.warning(
                "surveys %s were calling when the service stopped: marked interrupted, "
                "not dialled again (an operator may resume them)", ids,
            )  # fmt: skip
        self.started = True

    async def run(self) -> None:
        if not self.started:
            await self.start()
        try:
            while True:
                try:
                    await self.tick()
                except Exception:  # a database outage must not end the scheduler
                    log.exception("survey tick failed; trying again")
                await asyncio.sleep(self.settings.poll_seconds)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Hang up the calls in progress (their surveys stay ``calling``: interrupted at the
        next start, never dialled twice)."""
        for task in self._calls.values():
            task.cancel()
        if self._calls:
            await asyncio.gather(*self._calls.values(), return_exceptions=True)

    async def drain(self) -> None:
        """Wait for the calls in progress (tests)."""
        while self._calls:
            await asyncio.gather(*self._calls.values(), return_exceptions=True)

    async def tick(self) -> list[Claim]:
        now = self._clock()
        await self._sweep(now)
        await self.apply_results()
        if await asyncio.to_thread(self.store.paused):
            return []
        if not self.window.inside(now):
            return []
        self._refill(now)
        free = self.settings.max_concurrent - len(self._calls)
        limit = min(free, int(self._tokens))
        if limit <= 0:
            return []
        claims = await asyncio.to_thread(self.store.claim, now, limit)
        for claim in claims:
            self._tokens -= 1
            task = asyncio.create_task(self._attempt(claim), name=f"survey-{claim.survey.id}")
            self._calls[claim.survey.id] = task
        return claims

    def _refill(self, now: datetime) -> None:
        if self._refilled is not None:
            gained = (now - self._refilled).total_seconds() * self.settings.rate_per_minute / 60
            self._tokens = min(self._capacity, self._tokens + max(0.0, gained))
        self._refilled = now

    async def _sweep(self, now: datetime) -> None:
        s = self.settings
        since = now - LOOKBACK
        found: list[Candidate] = []
        if s.ticket_resolved:
            found += await asyncio.to_thread(self.store.resolved_without_survey, since)
        if s.call_kinds:
            found += await asyncio.to_thread(
                self.store.answered_without_survey, since, s.call_kinds
            )
        for c in found:
            await asyncio.to_thread(self._schedule, c)

    def _schedule(self, c: Candidate) -> None:
        reason = self.blocked(c.number)
        if reason:
            self.store.create(c, due_at=None, status=SKIPPED, reason=reason)
            return
        due = self.window.next_open(c.at + timedelta(minutes=self.settings.delay_minutes))
        survey = self.store.create(c, due_at=due)
        if survey is not None:
            log.info("survey %d scheduled for %s (ticket %s, call %s)",
                     survey.id, due.isoformat(), c.ticket_id, c.linkedid)  # fmt: skip

    def blocked(self, number: str) -> str:
        """Why ``number`` must not be called ('' if it may)."""
        if not number or not number.lstrip("+").isdigit():
            return f"no number to call back ({number!r})"
        if self.settings.blocked(number):
            return "on the do-not-call list"
        if self.store.opted_out(number):
            return "the citizen opted out of surveys"
        return ""

    async def _attempt(self, claim: Claim) -> None:
        try:
            await self._dial_and_record(claim)
        finally:  # only once recorded: drain() then sees the result in the store
            self._calls.pop(claim.survey.id, None)

    async def _dial_and_record(self, claim: Claim) -> None:
        survey = claim.survey
        try:
            # Checked again at dialling: the list or an opt-out may have changed since.
            reason = await asyncio.to_thread(self.blocked, survey.number)
            if reason:
                result = AttemptResult("skipped", detail=reason)
            else:
                result = await self._dialer.call(claim)
        except asyncio.CancelledError:
            raise  # stopping: the survey stays calling, interrupted at the next start
        except Exception as exc:
            log.exception("survey %d: the call failed", survey.id)
            result = AttemptResult("failed", detail=f"dialer error: {exc}")
        ended = self._clock()
        outcome = "answered" if result.result else result.outcome
        nxt = after_attempt(self.settings, self.window, outcome, claim.n, ended)
        if outcome == "skipped":
            nxt = Next(SKIPPED, reason=f"not dialled: {result.detail}")
        elif not nxt.reason and result.detail:  # why this attempt failed, kept until the next
            nxt = Next(nxt.status, nxt.next_at, result.detail[:500])
        stored = await asyncio.to_thread(
            self.store.finish, claim, nxt, outcome=outcome, ended_at=ended,
            sip_status=result.sip_status, digits=result.digits, result=result.result,
            comment_path=result.comment_path,
        )  # fmt: skip
        log.info("survey %d attempt %d: %s%s → %s%s", survey.id, claim.n, outcome,
                 f" ({result.result})" if result.result else "", nxt.status,
                 f" ({result.detail})" if result.detail else "")  # fmt: skip
        if stored and result.result:
            await self.apply_results()

    async def apply_results(self) -> None:
        async with self._applying:
            await self._apply_results()

    async def _apply_results(self) -> None:
        for survey in await asyncio.to_thread(self.store.unapplied):
            try:
                await self._apply(survey)
            except Exception:
                log.exception("survey %d: result not applied to ticket %s; will retry",
                              survey.id, survey.ticket_id)  # fmt: skip
                continue
            await asyncio.to_thread(self.store.mark_applied, survey.id)
