"""Transcription workers and their failures, with the real Vosk model, on SQLite and
PostgreSQL: bad recordings fail their job with the reason, a model that fails to load too, a
language without a model is skipped, a worker killed mid-job is replaced and the job is
finished once; the call record is never touched; stopping the service gives a busy worker's job
back. A worker process serves its own metrics (jobs by outcome, their durations) on its
loopback endpoint."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from hotline.calls.store import CallStore
from hotline.jobs.store import DONE, FAILED, QUEUED, RUNNING, SKIPPED, Job, JobStore
from hotline.telemetry.endpoint import MetricsEndpoint
from hotline.transcription.service import Transcription
from hotline.transcription.worker import JobRunner, WorkerConfig, process, run_worker
from telephony.audio import synthesize
from telephony.tracker import CallRecord, Disposition
from testkit.support import Samples, free_port, labels, poll, scrape_metrics
from tests.integration.conftest import VOSK_MODEL

SENTENCE = "The street light on Heping Road has been broken for a week."


def _config(engine: Engine, worker: str = "w1", **kw: object) -> WorkerConfig:
    url = engine.url.render_as_string(hide_password=False)
    base = WorkerConfig(url, worker, {"en": str(VOSK_MODEL)}, lease=5.0, ready_timeout=0.5)
    return replace(base, **kw)  # type: ignore[arg-type]


def _queue(jobs: JobStore, call_id: str, files: dict[str, str], language: str = "en") -> None:
    assert jobs.enqueue(
        call_id, files, language=language, ivr_kind="complaint", not_before=datetime.now(UTC)
    )


def _bad_recordings(d: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name → (file, words its failure reason must contain)."""
    empty = d / "empty.wav"
    empty.write_bytes(b"")
    truncated = d / "truncated.wav"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])  # the header promises more than is there
    not_wav = d / "notes.wav"
    not_wav.write_text("these are not samples\n" * 20)
    eight_bit = d / "eight-bit.wav"
    subprocess.run(
        ["sox", str(good), "-b", "8", "-e", "unsigned-integer", str(eight_bit)], check=True
    )
    stereo = d / "stereo.wav"
    subprocess.run(["sox", str(good), "-c", "2", str(stereo)], check=True)
    return {
        "empty": (empty, "empty"),
        "truncated": (truncated, "truncated"),
        "not a wav": (not_wav, "not a WAV"),
        "8-bit": (eight_bit, "16-bit"),
        "stereo": (stereo, "mono"),
        "missing": (d / "gone.wav", "not found"),
    }


def test_bad_recordings_fail_their_job_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    good = synthesize(SENTENCE, tmp_path / "good.wav")
    bad = _bad_recordings(tmp_path, good)
    jobs = JobStore(engine)
    calls = CallStore(engine)
    now = time.time()
    record = CallRecord(
        call_id="bad-0",
        caller_number="139",
        started_at=now - 60,
        ended_at=now,
        disposition=Disposition.ANSWERED,
        talk_time=30.0,
    )
    calls.save(record)
    for i, (path, _) in enumerate(bad.values()):
        _queue(jobs, f"bad-{i}", {"caller": str(path), "agent": str(good)})
    runner = JobRunner(_config(engine))
    outcomes: dict[str, str] = {}

    def step() -> bool:
        # A recording not closed yet goes back to the queue and comes back after a moment.
        job = jobs.claim("w1", 5.0, 3)
        if job is not None and (outcome := process(jobs, runner, job)) != "waiting":
            outcomes[job.call_id] = outcome
        return len(outcomes) == len(bad)

    poll(step, 60, "every bad recording's outcome", interval=0)
    for i, (name, (_, words)) in enumerate(bad.items()):
        job = jobs.get(f"bad-{i}")
        assert job is not None and job.status == FAILED, (name, job)
        assert words.lower() in job.error.lower(), (name, job.error)
        assert job.transcript is None
    row = calls.find(caller_number="139")[0]
    assert (row.disposition, row.talk_time, row.wrapup_time) == ("answered", 30.0, None)


def test_a_model_that_fails_to_load_fails_the_job_and_a_language_without_one_is_skipped(
    engine: Engine, tmp_path: Path
) -> None:
    good = synthesize(SENTENCE, tmp_path / "good.wav")
    broken = tmp_path / "broken-model"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "final.mdl").write_bytes(b"not a model")
    jobs = JobStore(engine)
    _queue(jobs, "m1", {"caller": str(good)})
    _queue(jobs, "m2", {"caller": str(good)}, language="zh")
    runner = JobRunner(_config(engine, models={"en": str(broken)}))
    for _ in range(2):
        job = jobs.claim("w1", 5.0, 3)
        assert job is not None
        process(jobs, runner, job)
    m1, m2 = jobs.get("m1"), jobs.get("m2")
    assert m1 is not None and m1.status == FAILED and "speech model" in m1.error
    assert m2 is not None and m2.status == SKIPPED and "no speech model for zh" in m2.error


def test_a_worker_killed_mid_job_is_replaced_and_the_job_finished_once(
    engine: Engine, tmp_path: Path
) -> None:
    # About a minute of speech per leg: long enough to kill the worker while it decodes.
    one = synthesize(SENTENCE, tmp_path / "one.wav")
    long = tmp_path / "long.wav"
    subprocess.run(["sox", *[str(one)] * 16, str(long)], check=True)
    jobs = JobStore(engine)
    _queue(jobs, "k1", {"caller": str(long), "agent": str(one)})
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    first = ctx.Process(target=run_worker, args=(_config(engine, "doomed", lease=2.0), stop))
    first.start()
    poll(lambda: _in(jobs, "k1", RUNNING), 60, "the first worker taking the job")
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)  # mid-job: no chance to clean up
    first.join()
    second = ctx.Process(target=run_worker, args=(_config(engine, "heir", lease=2.0), stop))
    second.start()
    try:
        job = poll(lambda: _in(jobs, "k1", DONE), 180, "the job finished", interval=0.1)
    finally:
        stop.set()
        second.join(30)
    assert job.attempts == 2  # the killed attempt and the one that finished
    assert "heping" in str(job.transcript).lower() or "street" in str(job.transcript).lower()
    assert jobs.counts() == {DONE: 1}


def _in(jobs: JobStore, call_id: str, status: str) -> Job | None:
    job = jobs.get(call_id)
    return job if job is not None and job.status == status else None


def test_a_worker_process_serves_its_jobs_metrics(engine: Engine, tmp_path: Path) -> None:
    good = synthesize(SENTENCE, tmp_path / "good.wav")
    jobs = JobStore(engine)
    _queue(jobs, "ok-1", {"caller": str(good)})
    _queue(jobs, "bad-1", {"caller": str(tmp_path / "gone.wav")})  # fails: not found
    endpoint = MetricsEndpoint("127.0.0.1", free_port())
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=run_worker, args=(_config(engine, "metered", metrics=endpoint), stop))
    proc.start()
    try:
        poll(lambda: _in(jobs, "ok-1", DONE), 120, "the good job done", interval=0.1)
        poll(lambda: _in(jobs, "bad-1", FAILED), 30, "the bad job failed", interval=0.1)

        done = labels(outcome="done", queue="transcribe")
        failed = labels(outcome="failed", queue="transcribe")

        def scraped() -> Samples | None:
            # The counters move right after the store's write: read until both are there.
            try:
                got = scrape_metrics(endpoint.url)
            except OSError:  # not listening yet
                return None
            jobs_total = "hotline_worker_jobs_total"
            ready = got.get((jobs_total, done)) == 1 and got.get((jobs_total, failed)) == 1
            return got if ready else None

        got = poll(scraped, 30, "the worker's jobs in its metrics", interval=0.1)
    finally:
        stop.set()
        proc.join(30)
    assert proc.exitcode == 0
    assert got[("hotline_worker_job_duration_seconds_count", done)] == 1
    assert got[("hotline_worker_job_duration_seconds_count", failed)] == 1
    assert got[("hotline_worker_job_duration_seconds_sum", done)] > 0
    assert got[("process_resident_memory_bytes", ())] > 0  # the worker process's own


def _busy_worker(cfg: WorkerConfig, stop: object) -> None:
    """A worker stuck in a long job: deaf to SIGINT, as the real ones, and to its stop event."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Event().wait()


def test_stopping_the_service_gives_back_a_busy_workers_job(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, "busy-0", {"caller": "/r/busy-0-caller.wav"})
    job = jobs.claim("busy-w0", lease=60, max_attempts=3)
    assert job is not None
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_busy_worker, args=(_config(engine, "busy-w0"), None))
    proc.start()

    async def deliver(job: Job) -> None:
        raise AssertionError("nothing is delivered")

    service = Transcription(jobs, {}, lambda w: _config(engine, w), deliver, stop_timeout=0.5)
    service._procs["busy-w0"] = proc
    service.stop_workers()
    assert not proc.is_alive() and proc.exitcode == -signal.SIGKILL
    back = jobs.by_id(job.id)
    assert back is not None and back.status == QUEUED and back.attempts == 0
    assert back.error == "given back: the service stopped"
