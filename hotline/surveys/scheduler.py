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
   budget, and each is dialled in its own task (renewing its lease while the call is live),
   or, with the Redis engine, handed to the queue for ``hotline worker survey`` processes.

Before each tick, calling surveys whose dialler's lease ran out are swept (``SurveyStore.sweep``):
a dialled one ends interrupted, a claim no worker started goes back on the schedule. A live
call of another instance or worker is never touched.

The clock is injected: tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from hotline.core.logs import bind
from hotline.jobs.broker import QueueUnavailable
from hotline.surveys.attempt import AttemptResult, Dialer
from hotline.surveys.config import SurveySettings
from hotline.surveys.policy import SKIPPED, CallWindow, Next, after_attempt
from hotline.surveys.store import Candidate, Claim, Survey, SurveyStore

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=2)  # triggers older than this when first seen are not surveyed

# Hands a claimed survey call to the queue (raises when the queue does not take it).
Publish = Callable[[Claim], None]


_schedulers = itertools.count(1)


def dialler_id(role: str) -> str:
    """A dialler's name: host, process id and role (unique: leases are held by name)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{role}"


def blocked(settings: SurveySettings, store: SurveyStore, number: str) -> str:
    """Why ``number`` must not be called ('' if it may). Blocking (the store)."""
    if not number or not number.lstrip("+").isdigit():
        return f"no number to call back ({number!r})"
    if settings.blocked(number):
        return "on the do-not-call list"
    if store.opted_out(number):
        return "the citizen opted out of surveys"
    return ""


def record_attempt(
    settings: SurveySettings,
    window: CallWindow,
    store: SurveyStore,
    claim: Claim,
    result: AttemptResult,
    ended: datetime,
) -> bool:
    """Write attempt ``claim.n``'s end and move the survey on (conditionally: False when the
    survey is no longer calling under this claim). Blocking (the store)."""
    survey = claim.survey
    outcome = "answered" if result.result else result.outcome
    nxt = after_attempt(settings, window, outcome, claim.n, ended)
    if outcome == "skipped":
        nxt = Next(SKIPPED, reason=f"not dialled: {result.detail}")
    elif not nxt.reason and result.detail:  # why this attempt failed, kept until the next
        nxt = Next(nxt.status, nxt.next_at, result.detail[:500])
    stored = store.finish(
        claim,
        nxt,
        outcome=outcome,
        ended_at=ended,
        sip_status=result.sip_status,
        digits=result.digits,
        result=result.result,
        comment_path=result.comment_path,
    )
    log.info(
        "survey %d attempt %d: %s%s → %s%s%s",
        survey.id,
        claim.n,
        outcome,
        f" ({result.result})" if result.result else "",
        nxt.status,
        f" ({result.detail})" if result.detail else "",
        "" if stored else " (not stored: no longer calling under this claim)",
    )
    return stored


class SurveyScheduler:
    def __init__(
        self,
        settings: SurveySettings,
        store: SurveyStore,
        window: CallWindow,
        dialer: Dialer | None,
        apply: Callable[[Survey], Awaitable[None]],
        clock: Callable[[], datetime],
        *,
        publish: Publish | None = None,
        dialler: str | None = None,
    ) -> None:
        self.settings = settings
        # publish: calls go to the queue (Redis engine); else this process dials them.
        self._publish = publish
        self.dialler = dialler or dialler_id(f"scheduler{next(_schedulers)}")
        self._queue_down = False
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
        """Once, before the first tick: surveys left ``calling`` by a dialler that is gone
        (a stopped service or worker: its lease ran out). Live diallers' calls stay."""
        await self._sweep_leases()
        self.started = True

    async def _sweep_leases(self) -> None:
        swept = await asyncio.to_thread(self.store.sweep)
        if swept.interrupted:
            log.warning(
                "surveys %s were calling when their dialler stopped: marked interrupted, "
                "not dialled again (an operator may resume them)",
                swept.interrupted,
            )
        if swept.unclaimed:
            log.warning(
                "survey calls %s were not started by any survey worker in time: back "
                "on the schedule",
                swept.unclaimed,
            )

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
        """Hang up the calls in progress: their surveys end interrupted (never dialled twice;
        if the database is out of reach, when their lease runs out)."""
        for task in self._calls.values():
            task.cancel()
        if self._calls:
            await asyncio.gather(*self._calls.values(), return_exceptions=True)
        try:
            ids = await asyncio.to_thread(
                self.store.interrupt_owned,
                self.dialler,
                "the service stopped during the call; not dialled again",
            )
        except DBAPIError as exc:
            log.error(
                "survey calls hung up at stop not marked interrupted (%s): their lease "
                "runs out instead",
                str(exc.orig or exc).splitlines()[0],
            )
            return
        if ids:
            log.warning("surveys %s hung up at stop: marked interrupted", ids)

    async def drain(self) -> None:
        """Wait for the calls in progress (tests)."""
        while self._calls:
            await asyncio.gather(*self._calls.values(), return_exceptions=True)

    async def tick(self) -> list[Claim]:
        now = self._clock()
        await self._sweep_leases()
        await self._sweep(now)
        await self.apply_results()
        if await asyncio.to_thread(self.store.paused):
            return []
        if not self.window.inside(now):
            return []
        self._refill(now)
        if self._publish is not None:
            # Calls in progress anywhere (every worker's) count against the cap.
            busy = await asyncio.to_thread(self.store.active_calls)
        else:
            busy = len(self._calls)
        limit = min(self.settings.max_concurrent - busy, int(self._tokens))
        if limit <= 0:
            return []
        if self._publish is not None:
            return await self._hand_over(now, limit)
        s = self.settings
        claims = await asyncio.to_thread(
            self.store.claim, now, limit, dialler=self.dialler, lease=s.lease_seconds
        )
        for claim in claims:
            self._tokens -= 1
            task = asyncio.create_task(self._attempt(claim), name=f"survey-{claim.survey.id}")
            self._calls[claim.survey.id] = task
        return claims

    async def _hand_over(self, now: datetime, limit: int) -> list[Claim]:
        """Redis engine: claim (the attempt written) and publish; a claim the queue does not
        take goes back on the schedule at once (nothing was dialled)."""
        assert self._publish is not None
        claims = await asyncio.to_thread(
            self.store.claim, now, limit, queued=True, lease=self.settings.dispatch_seconds
        )
        sent: list[Claim] = []
        for n, claim in enumerate(claims):
            try:
                await asyncio.to_thread(self._publish, claim)
            except QueueUnavailable as exc:
                if not self._queue_down:
                    log.error(
                        "Redis unreachable (%s): survey calls wait on the schedule until "
                        "it is back",
                        exc,
                    )
                self._queue_down = True
                for back in claims[n:]:
                    await asyncio.to_thread(self.store.unclaim, back.survey.id, back.n)
                break
            self._tokens -= 1
            sent.append(claim)
        else:
            if self._queue_down and sent:
                log.info("Redis reachable again: survey calls handed to the workers")
                self._queue_down = False
        return sent

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
            log.info(
                "survey %d scheduled for %s (ticket %s, call %s)",
                survey.id,
                due.isoformat(),
                c.ticket_id,
                c.call_id,
            )

    def blocked(self, number: str) -> str:
        """Why ``number`` must not be called ('' if it may)."""
        return blocked(self.settings, self.store, number)

    async def _attempt(self, claim: Claim) -> None:
        # The survey's own task: its lines, and its lease's, name it and the call it follows.
        bind(survey=claim.survey.id, call_id=claim.survey.call_id)
        lease = asyncio.create_task(self._keep_lease(claim.survey.id))
        try:
            await self._dial_and_record(claim)
        finally:  # only once recorded: drain() then sees the result in the store
            lease.cancel()
            self._calls.pop(claim.survey.id, None)

    async def _keep_lease(self, survey_id: int) -> None:
        """While the call is live: every third of the lease, renewed (real time)."""
        every = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(
                    self.store.renew, [survey_id], self.dialler, self.settings.lease_seconds
                )
            except DBAPIError as exc:  # tried again at the next third; the call goes on
                log.warning(
                    "survey %d: lease not renewed (%s)",
                    survey_id,
                    str(exc.orig or exc).splitlines()[0],
                )

    async def _dial_and_record(self, claim: Claim) -> None:
        survey = claim.survey
        try:
            # Checked again at dialling: the list or an opt-out may have changed since.
            reason = await asyncio.to_thread(self.blocked, survey.number)
            if reason:
                result = AttemptResult("skipped", detail=reason)
            else:
                assert self._dialer is not None, "a scheduler that publishes dials nothing"
                result = await self._dialer.call(claim)
        except asyncio.CancelledError:
            raise  # stopping: the survey stays calling, interrupted at the next start
        except Exception as exc:
            log.exception("survey %d: the call failed", survey.id)
            result = AttemptResult("failed", detail=f"dialer error: {exc}")
        ended = self._clock()
        stored = await asyncio.to_thread(
            record_attempt, self.settings, self.window, self.store, claim, result, ended
        )
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
                log.exception(
                    "survey %d: result not applied to ticket %s; will retry",
                    survey.id,
                    survey.ticket_id,
                )
                continue
            await asyncio.to_thread(self.store.mark_applied, survey.id)
