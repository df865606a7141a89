"""Transcription workers on Redis (dramatiq's RedisBroker), with real parts: a private
redis-server, the private PostgreSQL as the store, real recordings transcribed by the real Vosk
model in ``hotline worker transcribe`` processes started through the CLI.

Shown: with two worker processes, one SIGKILLed mid-transcription, every recording of the batch
is transcribed exactly once (its message comes back to a live worker once the dead one's
heartbeat has timed out; the killed attempt stores nothing); a job published again after it
was done stores nothing new; with Redis down the service keeps its jobs in the store and
publishes them when Redis is back, and workers started during the outage wait for it; each
worker process counts its jobs on its own metrics endpoint (``--metrics-port``); bad
configuration is explained.

One module on purpose: the scenarios share one private redis-server and one set of recordings
(module fixtures) and the worker CLI helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from hotline.app.service import Service
from hotline.app.settings import (
    ConfigError,
    Settings,
    parse_settings,
    resolve_redis_url,
    resolve_secrets,
)
from hotline.db.engine import make_engine, migrate
from hotline.jobs.broker import Publisher, QueueConfig
from hotline.jobs.config import JobsSettings
from hotline.jobs.store import DONE, RUNNING, Job, JobStore
from hotline.tickets.service import SYSTEM, TicketService
from hotline.transcription.service import Transcription
from hotline.transcription.worker import WorkerConfig
from telephony.audio import synthesize
from telephony.tracker import CallRecord, CallUpdate, Disposition, UpdateKind
from testkit.redis_server import PrivateRedis, private_redis
from testkit.support import TcpProxy, free_port, labels, poll, scrape_metrics, wait_for
from tests.integration.conftest import ROOT, VOSK_MODEL, Databases

# Each recording's caller says one sentence several times; the word is what Vosk must hear.
SENTENCES = {
    "The street light on Heping Road has been broken for a week": "street",
    "There is a large pothole in front of the school gate on Jiefang Street": "school",
    "My neighbour plays loud music every night after eleven o'clock": "loud",
    "The water supply in our building has been cut off since Monday morning": "water",
    "I would like to complain about a taxi driver who refused to use the meter": "taxi",
    "Garbage has not been collected in our community for three days": "garbage",
    "A tree fell across the road after the storm last night": "storm",
    "My heating has not worked for two weeks and it is very cold": "weeks",
}
REPEATS = 8  # about 30 s of speech per recording: several seconds of decoding each
# Short timings so a dead worker's message comes back in seconds (production: 60 s / 120 s).
FAST = {"lease": 3, "heartbeat_timeout": 6, "maintenance_chance": 1.0, "stop_timeout": 30}


@dataclass(frozen=True)
class Recording:
    call_id: str
    path: Path
    word: str


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[Recording]:
    d = tmp_path_factory.mktemp("redis-rec")
    made = []
    for n, (sentence, word) in enumerate(SENTENCES.items()):
        one = synthesize(sentence, d / f"s{n}.wav")
        leg = d / f"call{n}-caller.wav"
        subprocess.run(["sox", *[str(one)] * REPEATS, str(leg)], check=True)
        made.append(Recording(f"rq-{n}", leg, word))
    return made


@pytest.fixture
def pg_url(databases: Databases, tmp_path: Path) -> Iterator[str]:
    """A new, migrated database on the session's private PostgreSQL server."""
    url = databases.new("redis_jobs", tmp_path, "postgresql")
    migrate(url)
    yield url
    databases.drop(url)


def _config(path: Path, db_url: str, namespace: str, **jobs: Any) -> Path:
    data = {
        "database": {"url": db_url},
        "asr": {"models": {"en": str(VOSK_MODEL)}},
        "jobs": {"engine": "redis", "namespace": namespace, **FAST, **jobs},
    }
    path.write_text(yaml.safe_dump(data))
    return path


class WorkerCli:
    """``hotline worker KIND --processes N`` as a subprocess, its log in a file."""

    def __init__(
        self,
        config: Path,
        processes: int,
        redis_url: str,
        log: Path,
        kind: str = "transcribe",
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.log = log
        environ = {**os.environ, "HOTLINE_REDIS_URL": redis_url, **(env or {})}
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotline.app.cli",
                "-c",
                str(config),
                "worker",
                kind,
                "--processes",
                str(processes),
                *options,
            ],
            cwd=ROOT,
            env=environ,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text()))

    def stop(self) -> int:
        """SIGTERM, as systemd or docker stop would; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._out.close()


def _queue_config(redis: PrivateRedis, namespace: str) -> QueueConfig:
    jobs = JobsSettings.model_validate({"engine": "redis", "namespace": namespace, **FAST})
    return QueueConfig.from_settings(jobs, redis.url)


def _outbox(jobs: JobStore, publisher: Publisher) -> Transcription:
    """The service's transcription side with the Redis engine, for its outbox alone."""

    async def deliver(job: Job) -> None:
        raise AssertionError("not delivering in this test")

    def no_local_workers(worker_id: str) -> WorkerConfig:
        raise AssertionError("the Redis engine starts no local worker")

    return Transcription(jobs, {}, no_local_workers, deliver, publisher=publisher)


def _pid(worker: str | None) -> int:
    assert worker is not None
    return int(worker.rsplit("-", 1)[1])


def test_two_workers_one_killed_mid_batch_every_recording_transcribed_once(
    redis_server: PrivateRedis, recordings: list[Recording], pg_url: str, tmp_path: Path
) -> None:
    db = make_engine(pg_url)
    jobs = JobStore(db)
    for rec in recordings:
        assert jobs.enqueue(
            rec.call_id,
            {"caller": str(rec.path)},
            language="en",
            ivr_kind=None,
            not_before=datetime.now(UTC),
        )
    config = _config(tmp_path / "hotline.yaml", pg_url, "kill")
    port = free_port()  # process n's metrics on port + n
    workers = WorkerCli(
        config, 2, redis_server.url, tmp_path / "workers.log", options=["--metrics-port", str(port)]
    )
    publisher = Publisher.connect(_queue_config(redis_server, "kill"))
    outbox = _outbox(jobs, publisher)
    try:
        poll(lambda: workers.count("transcription worker ready") == 2, 120, "two workers ready")
        assert outbox.publish_due() == len(recordings)
        assert outbox.publish_due() == 0  # published once: the outbox does not repeat itself

        def running() -> Job | None:
            found = [j for j in _jobs(jobs, recordings) if j.status == RUNNING]
            return found[0] if found else None

        victim = poll(running, 120, "a worker transcribing", interval=0.02)
        os.kill(_pid(victim.worker), signal.SIGKILL)  # mid-transcription: no chance to clean up
        poll(
            lambda: all(j.status == DONE for j in _jobs(jobs, recordings)),
            300,
            "every recording transcribed",
            interval=0.2,
        )
        # Re-publishing finished jobs (a duplicate or late message) stores nothing new.
        before = {j.id: j for j in _jobs(jobs, recordings)}
        already = workers.count(r"already done, nothing stored")
        for job in before.values():
            publisher.transcribe(job.id, job.call_id)
        poll(
            lambda: workers.count(r"already done, nothing stored") == already + len(before),
            120,
            "the duplicates acknowledged",
        )
        assert {j.id: j for j in _jobs(jobs, recordings)} == before

        # Each process's own endpoint: the jobs it did since it started (the killed one's
        # replacement starts from 0, as Prometheus expects of a restarted process), so the
        # live processes' "done" lines are what their endpoints count.
        def counted() -> tuple[list[float], list[str]] | None:
            done = [_worker_jobs(port + n, "done") for n in range(2)]
            lines = _done_lines(workers.text(), but=_pid(victim.worker))
            return (done, lines) if sum(done) == len(lines) else None

        done, by_live = poll(counted, 30, "the endpoints counting the live workers' jobs")
        failed = [_worker_jobs(port + n, "failed") for n in range(2)]
    finally:
        status = workers.stop()
        publisher.close()
        db.dispose()
    log = workers.text()
    assert status == 0, log[-3000:]
    for rec, job in zip(recordings, _jobs(jobs, recordings), strict=True):
        assert job.status == DONE and job.error == "", job
        assert rec.word in str(job.transcript).lower(), (rec.word, job.transcript)
        # One stored result: a single "done" per job in the workers' log, no refused one.
        assert len(re.findall(rf"job {job.id} \(call {job.call_id}\): done", log)) == 1, log
    assert "): lost" not in log
    killed = next(j for j in _jobs(jobs, recordings) if j.id == victim.id)
    assert killed.attempts == 2 and killed.worker != victim.worker  # finished by another worker
    assert all(j.attempts == 1 for j in _jobs(jobs, recordings) if j.id != victim.id)
    assert re.search(rf"worker process {_pid(victim.worker)} exited \(code -9\)", log), log
    assert redis_server.password not in log  # the URL is a secret
    assert len(by_live) >= 1 and failed == [0, 0], (done, by_live, failed)


def _done_lines(log: str, but: int) -> list[str]:
    """The workers' "job N (call X): done" lines, except process ``but``'s."""
    return [
        line
        for line in log.splitlines()
        if re.search(r"job \d+ \(call [^)]+\): done", line) and f"-{but} " not in line
    ]


def _worker_jobs(port: int, outcome: str) -> float:
    """``hotline_worker_jobs_total`` of one outcome at a worker process's endpoint."""
    got = scrape_metrics(f"http://127.0.0.1:{port}/metrics")
    return got[("hotline_worker_jobs_total", labels(queue="transcribe", outcome=outcome))]


def _jobs(jobs: JobStore, recordings: list[Recording]) -> list[Job]:
    found = [jobs.get(r.call_id) for r in recordings]
    assert all(j is not None for j in found)
    return [j for j in found if j is not None]


def _redis_settings(settings: Settings, db_url: str, namespace: str) -> Settings:
    """The session's settings with the Redis engine, a database of its own, other ports."""
    data = settings.model_dump(mode="json")
    data["database"] = {"url": db_url}
    data["jobs"] = {"engine": "redis", "namespace": namespace, **FAST}
    data["listen"] = {"api_port": free_port(), "agi_port": free_port()}
    return parse_settings(data, "redis test settings")


async def test_with_redis_down_the_service_keeps_its_jobs_and_publishes_them_when_it_is_back(
    redis_server: PrivateRedis,
    recordings: list[Recording],
    settings: Settings,
    pg_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rsettings = _redis_settings(settings, pg_url, "outage")
    secrets = resolve_secrets(rsettings, env={"HOTLINE_REDIS_URL": redis_server.url})
    svc = await Service.build(rsettings, secrets)
    transcription = svc.transcription
    assert transcription is not None and transcription.publisher is not None
    tickets = TicketService(
        rsettings.tickets, svc.tickets, tz=rsettings.tz, languages=rsettings.ivr.languages
    )
    calls = recordings[:3]
    ticket_ids = {}
    for rec in calls:
        detail = await tickets.create(
            SYSTEM, {"description": "from a call"}, status="draft", call_id=rec.call_id
        )
        ticket_ids[rec.call_id] = detail.ticket.id
    redis_server.stop()  # Redis goes down before the calls end
    workers: WorkerCli | None = None
    task = asyncio.create_task(transcription.run())
    try:
        now = time.time()
        for rec in calls:
            record = CallRecord(
                call_id=rec.call_id,
                caller_number="13900000099",
                started_at=now - 40,
                ended_at=now,
                language="en",
                disposition=Disposition.ANSWERED,
                recordings={"caller": str(rec.path)},
            )
            transcription.on_update(CallUpdate(UpdateKind.ENDED, record))
        jobs = JobStore(svc.engine)
        # Kept in the store, not published: the outbox says why, once.
        await wait_for(lambda: not transcription.queue_reachable, 30, "the outage noticed")
        await wait_for(lambda: len(jobs.to_publish(900, 3)) == len(calls), 30, "jobs kept")
        # Workers started during the outage wait for Redis too.
        config = _config(tmp_path / "hotline.yaml", pg_url, "outage")
        workers = WorkerCli(config, 1, redis_server.url, tmp_path / "workers.log")
        await wait_for(lambda: workers.count("connection error") > 0, 60, "workers see it")
        assert all(jobs.get(r.call_id).status == "queued" for r in calls)  # type: ignore[union-attr]
        redis_server.start()  # back, empty: nothing was published while it was down
        for rec in calls:
            ticket = ticket_ids[rec.call_id]
            await wait_for(
                partial(_ticket_transcript, tickets, ticket),
                240,
                f"{rec.call_id}'s transcript on its ticket",
                interval=0.2,
            )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        status = workers.stop() if workers is not None else 0
        if not redis_server.running:
            redis_server.start()
        svc.engine.dispose()
    assert status == 0
    assert transcription.queue_reachable
    outage = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(outage) == 1 and outage[0].levelname == "ERROR"
    assert redis_server.password not in caplog.text
    for rec in calls:
        job = jobs.get(rec.call_id)
        assert job is not None and job.status == DONE and job.attempts == 1
        assert rec.word in str(job.transcript).lower()
    assert jobs.finished_undelivered() == []


async def _ticket_transcript(tickets: TicketService, ticket_id: int) -> Any:
    return (await tickets.get(ticket_id)).ticket.transcript


async def test_a_database_outage_delays_the_workers_jobs_and_loses_none(
    redis_server: PrivateRedis, recordings: list[Recording], pg_url: str, tmp_path: Path
) -> None:
    # The workers reach PostgreSQL through a proxy the test can cut; the test itself does not.
    url = make_url(pg_url)
    proxy = TcpProxy(url.port or 5432)
    await proxy.start()
    through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
    config = _config(tmp_path / "hotline.yaml", through_proxy, "dbdown")
    workers = WorkerCli(config, 1, redis_server.url, tmp_path / "workers.log")
    db = make_engine(pg_url)
    jobs = JobStore(db)
    publisher = Publisher.connect(_queue_config(redis_server, "dbdown"))
    calls = recordings[3:5]
    try:
        await wait_for(lambda: workers.count("transcription worker ready") == 1, 120, "ready")
        await proxy.stop_accepting()
        proxy.cut()  # the database is gone for the workers
        for rec in calls:
            assert jobs.enqueue(
                rec.call_id,
                {"caller": str(rec.path)},
                language="en",
                ivr_kind=None,
                not_before=datetime.now(UTC),
            )
        assert await asyncio.to_thread(_outbox(jobs, publisher).publish_due) == len(calls)
        await wait_for(lambda: workers.count("database unreachable") > 0, 60, "the outage seen")
        await proxy.start(port=proxy.port)  # back
        await wait_for(
            lambda: all(j.status == DONE for j in _jobs(jobs, calls)),
            180,
            "the jobs done after the outage",
            interval=0.2,
        )
    finally:
        status = await asyncio.to_thread(workers.stop)
        publisher.close()
        await proxy.close()
        db.dispose()
    log = workers.text()
    assert status == 0, log[-3000:]
    assert workers.count("database unreachable") == 1  # said once, not at every retry
    assert "database reachable again" in log
    for rec, job in zip(calls, _jobs(jobs, calls), strict=True):
        assert job.attempts == 1 and rec.word in str(job.transcript).lower()


def test_bad_job_settings_are_explained(tmp_path: Path, pg_url: str) -> None:
    cases = {
        "jobs.engine: Input should be 'database' or 'redis'": {"engine": "kafka"},
        "jobs.maintenance_chance: Input should be greater than 0": {"maintenance_chance": 0},
        "jobs: lease (130 s) must be shorter than heartbeat_timeout (120 s)": {"lease": 130},
        "jobs.unknown: unknown key": {"unknown": 1},
        "jobs.redis_url_env: String should match pattern": {"redis_url_env": "NOT A NAME"},
    }
    for message, jobs in cases.items():
        with pytest.raises(ConfigError) as err:
            parse_settings({"jobs": jobs})
        assert any(message in p for p in err.value.problems), (message, err.value.problems)
    redis = parse_settings({"jobs": {"engine": "redis"}})
    with pytest.raises(ConfigError, match="HOTLINE_REDIS_URL is not set"):
        resolve_redis_url(redis, env={})
    with pytest.raises(ConfigError) as err:
        resolve_redis_url(redis, env={"HOTLINE_REDIS_URL": "http://user:s3cret@host/"})
    assert "not a redis://" in str(err.value) and "s3cret" not in str(err.value)
    assert resolve_redis_url(parse_settings({}), env={}) == ""  # database engine: not needed
    # The CLI: `config check` and the worker command exit 2 with the reason.
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"jobs": {"engine": "redis", "heartbeat_timeout": 1}}))
    out = _cli("-c", str(bad), "config", "check")
    assert out.returncode == 2 and "jobs.heartbeat_timeout" in out.stderr, out.stderr
    good = _config(tmp_path / "hotline.yaml", pg_url, "cfg")
    out = _cli("-c", str(good), "worker", "transcribe")
    assert out.returncode == 2 and "HOTLINE_REDIS_URL is not set" in out.stderr, out.stderr
    blank = tmp_path / "blank.yaml"
    _config(blank, f"sqlite:///{tmp_path / 'empty.db'}", "cfg")
    out = _cli("-c", str(blank), "worker", "transcribe", env={"HOTLINE_REDIS_URL": "redis://x"})
    assert out.returncode == 2 and "hotline db upgrade" in out.stderr, out.stderr
    out = _cli(
        "-c",
        str(good),
        "worker",
        "transcribe",
        "--processes",
        "0",
        env={"HOTLINE_REDIS_URL": "redis://x"},
    )
    assert out.returncode == 2 and "--processes: must be between 1 and 64" in out.stderr
    for port in ("0", "65535"):  # 65535 + 1 for the second process is past the last port
        out = _cli(
            "-c",
            str(good),
            "worker",
            "transcribe",
            "--processes",
            "2",
            "--metrics-port",
            port,
            env={"HOTLINE_REDIS_URL": "redis://x"},
        )
        assert out.returncode == 2 and "--metrics-port: " in out.stderr, out.stderr
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"database": {"url": pg_url}}))
    out = _cli("-c", str(plain), "worker", "survey")
    assert out.returncode == 2 and "survey workers take their calls from Redis" in out.stderr


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_a_worker_stopped_mid_job_gives_it_back_and_another_finishes_it(
    redis_server: PrivateRedis, recordings: list[Recording], pg_url: str, tmp_path: Path
) -> None:
    db = make_engine(pg_url)
    jobs = JobStore(db)
    rec = recordings[0]
    assert jobs.enqueue(
        rec.call_id,
        {"caller": str(rec.path)},
        language="en",
        ivr_kind=None,
        not_before=datetime.now(UTC),
    )
    # No time to finish after SIGTERM: the job must be given back.
    config = _config(tmp_path / "hotline.yaml", pg_url, "giveback", stop_timeout=0)
    publisher = Publisher.connect(_queue_config(redis_server, "giveback"))
    first = WorkerCli(config, 1, redis_server.url, tmp_path / "first.log")
    second: WorkerCli | None = None
    try:
        poll(lambda: first.count("transcription worker ready") == 1, 120, "the worker ready")
        assert _outbox(jobs, publisher).publish_due() == 1
        poll(lambda: _jobs(jobs, [rec])[0].status == RUNNING, 60, "the job taken", interval=0.02)
        assert first.stop() == 0  # SIGTERM mid-transcription: a clean exit
        back = _jobs(jobs, [rec])[0]
        assert back.status == "queued" and back.attempts == 0, back  # the attempt not counted
        assert "given back" in back.error
        # Published again by the stopping worker: the next one (JSON logs by its env) finishes it.
        json_env = {"HOTLINE_LOG_FORMAT": "json"}
        second = WorkerCli(config, 1, redis_server.url, tmp_path / "second.log", env=json_env)
        poll(lambda: _jobs(jobs, [rec])[0].status == DONE, 180, "the job done", interval=0.2)
    finally:
        first.stop()
        if second is not None:
            assert second.stop() == 0
        publisher.close()
        db.dispose()
    done = _jobs(jobs, [rec])[0]
    assert done.attempts == 1 and rec.word in str(done.transcript).lower()
    assert "not finished in time, given back" in first.text()
    # Vosk writes its own lines to stderr; every line of ours is one JSON object.
    assert second is not None and " INFO hotline" not in second.text()  # no text line
    ours = [json.loads(x) for x in second.text().splitlines() if x.startswith("{")]
    (end,) = [x for x in ours if f"(call {rec.call_id}): done (attempt 1) in " in x["message"]]
    assert end["call_id"] == rec.call_id and end["worker"]
    assert end["logger"] == "hotline.transcription.serve" and end["level"] == "INFO"
