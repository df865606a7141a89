"""Transcription, wired into the service: a recorded call that ended becomes a job; worker
processes (``worker.py``) do the jobs; each finished job's transcript and draft reach the
agent's screen-pop and the call's tickets, once.

The jobs live in the store, so the queue survives restarts. With ``jobs.engine: database`` the
service runs local workers that claim jobs from the store (workers on other machines may share
it: they only need the database). With ``redis`` it runs none: its outbox publishes each due job's
id through Redis to ``hotline worker transcribe`` processes anywhere, and publishes again what
was never published (Redis down, a restart in between) or looks lost. Delivery of results is
marked in the store too: after a restart nothing is applied twice and nothing finished is
forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.synchronize
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hotline.core.logs import log_context
from hotline.core.signals import stop_signals_blocked
from hotline.jobs.broker import Publisher, QueueUnavailable
from hotline.jobs.store import DONE, SKIPPED, Job, JobStore
from hotline.telemetry.endpoint import MetricsEndpoint
from hotline.transcription.worker import WorkerConfig, run_local_worker
from telephony.tracker import CallUpdate, Disposition, UpdateKind

log = logging.getLogger(__name__)

# Apply one finished job (tickets, screen-pop; a survey comment): ``delivery.TranscriptDelivery``.
Deliver = Callable[[Job], Awaitable[None]]


@dataclass
class Transcription:
    jobs: JobStore
    models: dict[str, str]  # language → model folder
    worker_config: Callable[[str], WorkerConfig]  # worker id → its configuration
    deliver: Deliver
    workers: int = 1
    settle: float = 1.0  # seconds after hang-up before a job is due (files closing)
    poll: float = 0.5
    # Redis engine: no local workers; due jobs are published (the outbox).
    publisher: Publisher | None = None
    redelivery_after: float = 900.0
    max_attempts: int = 3
    queue_reachable: bool = True  # Redis took the last messages (or none were sent yet)
    # The local workers' own Prometheus endpoints: worker n at port + n (None: none).
    metrics: MetricsEndpoint | None = None
    # Seconds a stopping local worker has to finish its job before it is killed (the job
    # then goes back to the queue): short, as Ctrl-C should stop the service promptly.
    stop_timeout: float = 10.0
    published: int = 0
    _procs: dict[str, multiprocessing.process.BaseProcess] = field(default_factory=dict)
    _stop: multiprocessing.synchronize.Event | None = None
    _pending: set[asyncio.Task[None]] = field(default_factory=set)
    queued: int = 0
    delivered: int = 0

    # -- calls in ---------------------------------------------------------------------------
    def on_update(self, update: CallUpdate) -> None:
        """A stored call update (CallWriter listener): an answered, recorded call that
        ended is queued."""
        rec = update.record
        if update.kind != UpdateKind.ENDED or rec.disposition != Disposition.ANSWERED:
            return
        files = {s: rec.recordings[s] for s in ("caller", "agent") if rec.recordings.get(s)}
        if not files:
            return
        language = rec.language
        no_model = language is not None and language not in self.models
        due = datetime.now(UTC) + timedelta(seconds=self.settle)

        def enqueue() -> None:
            if self.jobs.enqueue(
                rec.call_id,
                files,
                language=language,
                ivr_kind=rec.request_kind,
                ivr_category=rec.request_category,
                not_before=due,
                status=SKIPPED if no_model else "queued",
                error=f"no speech model for {language}" if no_model else "",
            ):
                self.queued += 1
                if no_model:
                    log.warning(
                        "call %s not transcribed: no speech model for %s", rec.call_id, language
                    )

        task = asyncio.get_running_loop().create_task(asyncio.to_thread(enqueue))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queueing a transcription failed: %r", task.exception())

    # -- workers and delivery ---------------------------------------------------------------
    async def run(self) -> None:
        """Keep the local workers running (or publish due jobs to Redis) and deliver finished
        jobs, until cancelled."""
        if self.publisher is not None:
            try:
                while True:
                    await asyncio.to_thread(self.publish_due)
                    await self.deliver_finished()
                    await asyncio.sleep(self.poll)
            finally:
                self.publisher.close()
        ctx = multiprocessing.get_context("spawn")  # no forked copy of the event loop
        self._stop = ctx.Event()
        try:
            while True:
                self._supervise(ctx)
                await self.deliver_finished()
                await asyncio.sleep(self.poll)
        finally:
            await asyncio.to_thread(self.stop_workers)

    def publish_due(self) -> int:
        """The outbox (blocking: run in a thread): jobs never published, given back, whose
        worker died or whose message looks lost are published; with Redis down they wait in
        the store, and the outage is logged once."""
        assert self.publisher is not None
        self.jobs.give_up(self.max_attempts)
        sent: list[int] = []
        try:
            for job in self.jobs.to_publish(self.redelivery_after, self.max_attempts):
                self.publisher.transcribe(job.id, job.call_id)
                sent.append(job.id)
        except QueueUnavailable as exc:
            if self.queue_reachable:
                log.error(
                    "Redis unreachable (%s): transcription jobs wait in the database and "
                    "are published when it is back",
                    exc,
                )
            self.queue_reachable = False
        else:
            if not self.queue_reachable and (sent or self.publisher.reachable()):
                log.info("Redis reachable again: %d waiting job(s) published", len(sent))
                self.queue_reachable = True
        finally:
            self.jobs.mark_published(sent)
            self.published += len(sent)
        return len(sent)

    def _supervise(self, ctx: multiprocessing.context.SpawnContext) -> None:
        for n in range(self.workers):
            worker_id = f"{os.uname().nodename}-{os.getpid()}-w{n}"
            proc = self._procs.get(worker_id)
            if proc is not None and proc.is_alive():
                continue
            if proc is not None:
                log.error(
                    "transcription worker %s exited (%s); starting another",
                    worker_id,
                    proc.exitcode,
                )
            assert self._stop is not None
            cfg = self.worker_config(worker_id)
            if self.metrics is not None:
                cfg = replace(cfg, metrics=self.metrics.for_slot(n))
            proc = ctx.Process(
                target=run_local_worker,
                args=(cfg, self._stop),
                name=worker_id,
                daemon=True,
            )
            with stop_signals_blocked():  # no signal while it starts up
                proc.start()
            self._procs[worker_id] = proc

    def stop_workers(self) -> None:
        """Stop the local workers in order (blocking: run in a thread): each is asked to stop
        and finishes the job it is doing, up to ``stop_timeout`` s; one still at it then is
        killed and its job given back to the queue (done again by the next worker, the
        attempt not counted), so stopping loses no job."""
        if self._stop is not None:
            self._stop.set()
        deadline = time.monotonic() + self.stop_timeout
        for worker_id, proc in self._procs.items():
            proc.join(max(0.0, deadline - time.monotonic()))
            if not proc.is_alive():
                continue
            log.warning(
                "transcription worker %s still busy after %.0f s; stopping it",
                worker_id,
                self.stop_timeout,
            )
            proc.kill()
            proc.join()
            try:
                released = self.jobs.release_held(worker_id, "given back: the service stopped")
            except SQLAlchemyError as exc:
                # Still not lost: its lease runs out and another worker claims it.
                log.error(
                    "could not give back the job of worker %s (%s); it is claimed again when "
                    "its lease runs out",
                    worker_id,
                    str(exc).splitlines()[0],
                )
                continue
            if released:
                log.warning(
                    "transcription job(s) %s given back to the queue",
                    ", ".join(map(str, released)),
                )
        self._procs.clear()

    async def deliver_finished(self) -> int:
        jobs = await asyncio.to_thread(self.jobs.finished_undelivered)
        for job in jobs:
            if job.status == DONE:
                with log_context(call_id=job.call_id):
                    await self.deliver(job)
            self.delivered += 1
        await asyncio.to_thread(self.jobs.mark_delivered, [j.id for j in jobs])
        return len(jobs)

    def pids(self) -> dict[str, int | None]:
        return {w: p.pid for w, p in self._procs.items()}


def transcript_text(transcript: Any) -> str:
    """Speaker-labelled lines of a transcript as stored (JSON)."""
    turns = transcript.get("turns", []) if isinstance(transcript, dict) else []
    return "\n".join(f"{t.get('speaker')}: {t.get('text')}" for t in turns)
