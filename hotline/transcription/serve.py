"""A transcription worker process on Redis: dramatiq's ``Worker`` with one thread and a
prefetch of one (one message at a time: a second one would wait behind a long transcription
while another process sits idle), the speech models loaded once, the job itself done by the same
``process`` as the database engine's workers.

Per message (a job id): the job is read from the store; one already finished, unknown or being
done by another live worker is acknowledged and nothing is stored; one whose workers died
``max_attempts`` times fails with that reason (a recording that kills workers does not loop);
otherwise the job is claimed (attempt counted), transcribed and its result stored once (the
store's conditional update). A recording the PBX is still closing goes back to the store and
its message is sent again with a delay. On SIGTERM the current job is finished (up to
``jobs.stop_timeout``), else given back.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

from dramatiq import Actor, Worker

from hotline.core.logs import configure_logging, log_context
from hotline.core.signals import ignore_interrupt
from hotline.db.engine import make_engine
from hotline.jobs.broker import (
    TRANSCRIBE,
    Publisher,
    QueueConfig,
    QueueUnavailable,
    make_broker,
)
from hotline.jobs.patience import Patience, PatientJobStore, StoreUnavailable
from hotline.jobs.store import QUEUED, RUNNING, Job
from hotline.telemetry.endpoint import MetricsEndpoint, worker_metrics
from hotline.telemetry.metrics import WorkerMetrics
from hotline.transcription.worker import JobRunner, WorkerConfig, observe, process

log = logging.getLogger(__name__)

RECORDING_WAIT = 1.0  # seconds before a recording still being closed is looked at again


def worker_id() -> str:
    """Host and process id: unique among live workers, and names the process to look at."""
    return f"{socket.gethostname()[:48]}-{os.getpid()}"


class TranscribeHandler:
    """The actor's function: one message, one job id."""

    def __init__(
        self,
        jobs: PatientJobStore,
        runner: JobRunner,
        publisher: Publisher,
        metrics: WorkerMetrics,
    ) -> None:
        self.jobs = jobs
        self.runner = runner
        self.publisher = publisher
        self.metrics = metrics
        self.current: Job | None = None  # the job being transcribed (the stop path reads it)

    @property
    def cfg(self) -> WorkerConfig:
        return self.runner.config

    def __call__(self, job_id: int, call_id: str) -> None:
        with log_context(call_id=call_id):
            self._job(job_id, call_id)

    def _job(self, job_id: int, call_id: str) -> None:
        started = time.monotonic()
        try:
            outcome = self.handle(job_id, call_id)
        except StoreUnavailable as exc:
            # Stopping with the database down: the job stays as the store has it and comes
            # back (its lease runs out, or the outbox sends it again).
            outcome = f"left for later: database unreachable while stopping ({exc})"
        finally:
            self.current = None
        log.info(
            "job %s (call %s): %s in %.1f s", job_id, call_id, outcome, time.monotonic() - started
        )

    def handle(self, job_id: int, call_id: str) -> str:
        cfg, jobs = self.cfg, self.jobs
        seen = jobs.by_id(job_id)
        if seen is None or seen.call_id != call_id:
            return "no such job in the store (a stale message), dropped"
        if seen.finished:
            return f"already {seen.status}, nothing stored"
        if jobs.give_up(cfg.max_attempts, job_id):
            self.metrics.count("failed")
            return f"failed: gave up after {cfg.max_attempts} attempts"
        job = jobs.claim_job(job_id, cfg.worker_id, cfg.lease, cfg.max_attempts)
        if job is None:
            return self._not_claimed(job_id)
        self.current = job
        started = time.monotonic()
        outcome = process(jobs, self.runner, job)
        observe(self.metrics, outcome, time.monotonic() - started)
        if outcome == "waiting":  # released to the store, due again in a moment
            self.republish(job, RECORDING_WAIT)
            return outcome
        return f"{outcome} (attempt {job.attempts})"

    def _not_claimed(self, job_id: int) -> str:
        now = datetime.now(UTC)
        job = self.jobs.by_id(job_id)
        if job is None:
            return "gone from the store, dropped"
        if job.finished:
            return f"already {job.status}, nothing stored"
        if job.status == QUEUED and job.not_before is not None and job.not_before > now:
            self.republish(job, (job.not_before - now).total_seconds())
            return "not due yet, sent again with a delay"
        if job.status == RUNNING:
            return f"being done by {job.worker}, dropped (a duplicate message)"
        return f"not claimable ({job.status}, {job.attempts} attempt(s)), dropped"

    def republish(self, job: Job, delay: float) -> None:
        try:
            self.publisher.transcribe(job.id, job.call_id, delay)
        except QueueUnavailable as exc:
            log.error(
                "job %s: could not send it again (%s); the service's outbox will", job.id, exc
            )
            return
        self.jobs.mark_published([job.id])

    def give_back(self) -> None:
        """Stopping while a job is still being transcribed: back to the queue, for another
        worker (the attempt is not counted)."""
        job = self.current
        if job is None:
            return
        due = datetime.now(UTC)
        with log_context(call_id=job.call_id):
            if self.jobs.release(job.id, self.cfg.worker_id, due, "given back: its worker stopped"):
                log.warning(
                    "job %s (call %s): not finished in time, given back", job.id, job.call_id
                )
                self.republish(job, 0.0)


def serve(cfg: WorkerConfig, queue: QueueConfig, metrics: MetricsEndpoint | None = None) -> None:
    """A transcription worker process's main: consume until SIGTERM, then stop cleanly.
    ``metrics``: this process's Prometheus endpoint (None: none)."""
    stopping = _stop_on_sigterm()
    cfg = replace(cfg, worker_id=worker_id(), metrics=metrics)
    configure_logging(cfg.log, process=cfg.worker_id)
    db = make_engine(cfg.database_url)
    jobs = PatientJobStore(db, Patience(stopping))
    runner = JobRunner(cfg)
    runner.preload()
    broker = make_broker(queue)
    try:
        with worker_metrics("transcribe", cfg.metrics) as observed:
            handler = TranscribeHandler(jobs, runner, Publisher(broker), observed)
            Actor(
                handler,
                broker=broker,
                actor_name=TRANSCRIBE,
                queue_name=TRANSCRIBE,
                priority=0,
                options={},
            )
            worker = Worker(broker, queues={TRANSCRIBE}, worker_threads=1)
            # One message at a time; delayed ones (recordings being closed) are held until due.
            worker.queue_prefetch, worker.delay_prefetch = 1, 100
            worker.start()
            log.info(
                "transcription worker ready: models %s, queue %r in Redis",
                ", ".join(sorted(cfg.specs)) or "none",
                TRANSCRIBE,
            )
            while not stopping.wait(1.0):
                pass
            log.info("stopping: finishing the current job (up to %.0f s)", queue.stop_timeout)
            worker.stop(timeout=int(queue.stop_timeout * 1000))
            handler.give_back()
    finally:
        broker.client.close()
        db.dispose()
    log.info("transcription worker stopped")


def _stop_on_sigterm() -> threading.Event:
    """SIGTERM asks the process to stop; SIGINT is left to the parent (Ctrl-C in a terminal
    reaches the whole group, and the parent turns it into SIGTERM for each child)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    ignore_interrupt()  # the parent turns Ctrl-C into SIGTERM
    return stopping


def serve_database(cfg: WorkerConfig, metrics: MetricsEndpoint | None = None) -> None:
    """The database engine's worker loop (claims from the store), as a ``hotline worker``
    process: the same stop on SIGTERM."""
    from hotline.transcription.worker import run_worker

    stopping = _stop_on_sigterm()
    run_worker(replace(cfg, worker_id=worker_id(), metrics=metrics), stopping)
