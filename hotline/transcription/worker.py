"""A transcription worker: a process of its own that claims jobs from the store, transcribes
each leg with the engine of the job's language (Vosk, or Whisper for Mandarin: ``asr.engines``),
merges the legs into speaker turns, drafts the ticket fields and stores the result. Blocking by
design (the engines are); never runs on the service's event loop.

A job without a language (the caller left the IVR before choosing one) gets the language found
in the caller's speech among the configured ones (``asr.detect_language``), recorded in the
transcript. Each worker loads a language's model once. While it transcribes, a thread renews
its lease, so only a worker that died (or hung) loses its job to another. A recording the PBX
is still closing is waited for (the job goes back to the queue for a moment); a bad recording
fails the job with the reason; a language without a model is skipped, visibly.
"""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from asr.engine import EngineSpec, specs_of
from asr.errors import AsrError, AudioError
from asr.types import Detection
from asr.wavcheck import recording_state
from asr.whisper import WhisperOptions
from hotline.core.logs import LogSettings, configure_logging, log_context
from hotline.core.signals import ignore_interrupt
from hotline.db.engine import make_engine
from hotline.jobs.store import SKIPPED, Job, JobStore
from hotline.telemetry.endpoint import MetricsEndpoint, worker_metrics
from hotline.telemetry.metrics import WorkerMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker process needs: plain data, so it crosses a process boundary."""

    database_url: str
    worker_id: str
    models: dict[str, str]  # language → Vosk model folder (asr.models' short form)
    engines: dict[str, EngineSpec] = field(default_factory=dict)  # language → engine, model
    whisper: WhisperOptions = field(default_factory=WhisperOptions)  # with the hot words
    detect_language: bool = True  # a job without a language: found from the caller's leg
    fallback_language: str = "en"  # ... or this, when it cannot be
    draft: dict[str, Any] | None = None  # the draft taxonomy (settings, as plain data)
    lease: float = 60.0  # seconds; renewed every third of it while transcribing
    max_attempts: int = 3
    timezone: str = "UTC"  # the centre's (settings.timezone): the day relative dates count from
    ready_timeout: float = 60.0  # how long after queueing a recording may still be closing
    poll: float = 0.5  # seconds between looks at an empty queue
    options: dict[str, Any] = field(default_factory=dict)  # asr RecognizerOptions fields (Vosk)
    log: LogSettings = field(default_factory=LogSettings)  # the service's, in force
    metrics: MetricsEndpoint | None = None  # this process's Prometheus endpoint (None: off)

    @property
    def specs(self) -> dict[str, EngineSpec]:
        """Every language's engine: ``models`` (Vosk) and ``engines``."""
        return {**specs_of(self.models), **self.engines}


class JobRunner:
    """The transcription itself, per job: the engines keep each language's model loaded, the
    draft taxonomy is read once."""

    def __init__(self, config: WorkerConfig) -> None:
        from asr.engine import Engines
        from asr.recognize import RecognizerOptions
        from drafting import DraftTaxonomy

        self.config = config
        options = RecognizerOptions(**config.options) if config.options else None
        self._engines = Engines(config.specs, options, config.whisper)
        self._taxonomy = DraftTaxonomy.model_validate(config.draft or {})

    def preload(self) -> None:
        """Load every configured model now (once per process), not on the first job; a model
        that does not load is logged here and fails its jobs with the reason."""
        for language in self._engines.languages:
            try:
                self._engines.load(language)
            except AsrError as exc:
                log.error("speech model for %s: %s", language, exc)
        if "zh" in self._engines.languages:
            self._taxonomy.compiled.warm()  # the first Mandarin draft does not wait a second

    def language_of(self, job: Job) -> tuple[str, Detection | None]:
        """The job's language, and how it was found when the call did not say."""
        if job.language is not None:
            return job.language, None
        cfg = self.config
        caller = job.files.get("caller")
        found = None
        if cfg.detect_language and caller is not None and self._engines.can_detect():
            found = self._engines.detect(Path(caller))
        if found is None:
            return cfg.fallback_language, None
        log.info(
            "job %s (call %s): no language from the call; %s found (p=%.2f)",
            job.id,
            job.call_id,
            found.language,
            found.probability,
        )
        return found.language, found

    def call_time(self, job: Job) -> datetime:
        """When the call was, on the centre's clock: relative dates ("yesterday") are the
        caller's, so they count from the caller's own day (in UTC, a call at 07:00 in Shanghai
        would still be on the day before)."""
        return job.created_at.astimezone(ZoneInfo(self.config.timezone))

    def run(self, job: Job) -> tuple[Any, Any, float]:
        """(transcript, draft, audio seconds) of the job's recordings, as JSON-ready data."""
        from asr.transcript import build, to_dict
        from drafting import extract

        language, detected = self.language_of(job)
        legs = [
            self._engines.transcribe(Path(job.files[speaker]), speaker, language)
            for speaker in ("caller", "agent")
            if speaker in job.files
        ]
        transcript = build(legs, language, detected)
        for leg in legs:
            if leg.unclear:
                log.warning(
                    "job %s (call %s): %s leg unclear: %s",
                    job.id,
                    job.call_id,
                    leg.speaker,
                    "; ".join(leg.unclear),
                )
        draft = extract(
            transcript,
            taxonomy=self._taxonomy,
            ivr_kind=job.ivr_kind,
            ivr_category=job.ivr_category,
            now=self.call_time(job),
        )
        seconds = max((leg.duration for leg in legs), default=0.0)
        return to_dict(transcript), draft.as_dict(), seconds


def process(jobs: JobStore, engine: JobRunner, job: Job) -> str:
    """Run one claimed job to its end; returns what happened (for logs and tests)."""
    cfg = engine.config
    if job.language is not None and job.language not in cfg.specs:
        jobs.fail(job.id, cfg.worker_id, f"no speech model for {job.language}", status=SKIPPED)
        return "skipped"
    age = (datetime.now(UTC) - job.created_at).total_seconds()
    for path in job.files.values():
        state = recording_state(Path(path))
        if state != "closed" and age < cfg.ready_timeout:
            # MixMonitor writes the WAV header's sizes when it closes the file.
            due = datetime.now(UTC) + timedelta(seconds=1.0)
            jobs.release(job.id, cfg.worker_id, due, f"{Path(path).name}: {state}, waiting")
            return "waiting"
    stop = threading.Event()
    # In a copy of this context: its lines name the job's call too.
    renewer = threading.Thread(
        target=contextvars.copy_context().run,
        args=(_renew, jobs, job, cfg, stop),
        daemon=True,
    )
    renewer.start()
    try:
        transcript, draft, seconds = engine.run(job)
    except AudioError as exc:
        jobs.fail(job.id, cfg.worker_id, exc.reason if exc.reason else str(exc))
        return "failed"
    except AsrError as exc:  # no model, or it did not load: say so on the job
        jobs.fail(job.id, cfg.worker_id, f"speech model: {exc}")
        return "failed"
    finally:
        stop.set()
        renewer.join()
    stored = jobs.complete(
        job.id, cfg.worker_id, transcript=transcript, draft=draft, audio_seconds=seconds
    )
    return "done" if stored else "lost"  # lost: another worker took over meanwhile


def observe(metrics: WorkerMetrics, outcome: str, seconds: float) -> None:
    """A job ``process`` ran: counted and timed by its outcome, unless it only went back to the
    queue to wait for its recording (it is not finished)."""
    if outcome != "waiting":
        metrics.job(outcome, seconds)


def _renew(jobs: JobStore, job: Job, cfg: WorkerConfig, stop: threading.Event) -> None:
    while not stop.wait(cfg.lease / 3):
        if not jobs.renew(job.id, cfg.worker_id, cfg.lease):
            log.warning("job %s (call %s): lease lost", job.id, job.call_id)
            return


class _EitherStop:
    """Set when the parent's event (a multiprocessing Event) or this process's own SIGTERM
    event is: what ``run_worker`` waits on in a service's local worker."""

    def __init__(self, parent: Any, own: threading.Event) -> None:
        self.parent, self.own = parent, own
        self.parent_pid = os.getppid()

    def is_set(self) -> bool:
        # A parent that died without stopping us (SIGKILL) leaves us re-parented: stop too.
        orphaned = os.getppid() != self.parent_pid
        return bool(self.parent.is_set()) or self.own.is_set() or orphaned

    def wait(self, timeout: float) -> bool:
        # A SIGTERM is seen within ``timeout`` (the worker's poll): the handler only sets
        # ``own``, it cannot wake the parent's event (its lock may be held by this thread).
        self.parent.wait(timeout)
        return self.is_set()


def run_local_worker(cfg: WorkerConfig, stop: Any) -> None:
    """A service's local worker process (``Transcription``): stopped by its parent through
    ``stop``, in order. Ctrl-C in a terminal reaches the whole process group, this process
    too: SIGINT is ignored here (no KeyboardInterrupt tearing a job apart, no traceback), the
    parent sets ``stop``. A SIGTERM of its own (``kill``, systemd stopping the whole group)
    also stops it after the current job."""
    own = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: own.set())
    ignore_interrupt()  # after the SIGTERM handler: one sent during start-up is handled now
    run_worker(cfg, _EitherStop(stop, own))


def run_worker(cfg: WorkerConfig, stop: Any) -> None:
    """A worker process's main loop, until ``stop`` (a multiprocessing Event) is set."""
    configure_logging(cfg.log, process=cfg.worker_id)
    db = make_engine(cfg.database_url)
    jobs = JobStore(db)
    engine = JobRunner(cfg)
    try:
        with worker_metrics("transcribe", cfg.metrics) as metrics:
            while not stop.is_set():
                metrics.count("failed", jobs.give_up(cfg.max_attempts))
                job = jobs.claim(cfg.worker_id, cfg.lease, cfg.max_attempts)
                if job is None:
                    stop.wait(cfg.poll)
                    continue
                started = time.monotonic()
                with log_context(call_id=job.call_id):
                    outcome = process(jobs, engine, job)
                    seconds = time.monotonic() - started
                    observe(metrics, outcome, seconds)
                    log.info(
                        "job %s (call %s): %s in %.1f s", job.id, job.call_id, outcome, seconds
                    )
    finally:
        db.dispose()
    log.info("transcription worker %s stopped", cfg.worker_id)
