"""Benchmark: transcription throughput through the Redis job engine, 1 worker process then 2.

Run from the repository root::

    .venv/bin/python -m bench.redis_workers_bench [--minutes 20] [--cache DIR]

The call set of ``bench.asr_bench`` (call-like 8 kHz caller and agent legs synthesised with
espeak-ng + sox, cached) becomes one transcription job per call in a fresh database on a private
PostgreSQL server. For each run, ``hotline worker transcribe --processes N`` is started against a
private redis-server (``jobs.engine: redis``, its own key namespace), and once every process has
loaded its model, the service's outbox (``Transcription.publish_due``) publishes all the jobs;
the clock runs from that moment to the last job's result in the store.

Printed: the machine, the audio (leg seconds: each leg is decoded), wall time, times real time,
jobs per minute for each run, and the 2-process / 1-process throughput ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from asr.audio import read_wav
from bench.asr_bench import MODEL, ROOT, synthesise
from bench.ivr_bench import machine
from hotline.db.engine import make_engine, migrate
from hotline.db.job_models import TranscriptionJobRow
from hotline.jobs.broker import Publisher, QueueConfig
from hotline.jobs.config import JobsSettings
from hotline.jobs.store import DONE, Job, JobStore
from hotline.transcription.service import Transcription
from hotline.transcription.worker import WorkerConfig
from testkit.postgres_server import PrivatePostgres, private_postgres
from testkit.redis_server import PrivateRedis, private_redis, redis_version

READY_TIMEOUT = 300.0  # seconds for the worker processes to load their models
RUN_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Figures:
    processes: int
    jobs: int
    leg_audio: float  # seconds of audio decoded (every leg)
    wall: float

    @property
    def x_real_time(self) -> float:
        return self.leg_audio / self.wall

    @property
    def jobs_per_minute(self) -> float:
        return self.jobs * 60 / self.wall


def calls_of(calls: Path, texts: dict[str, str]) -> dict[str, dict[str, str]]:
    """call name → {"caller": path, "agent": path}."""
    out: dict[str, dict[str, str]] = {}
    for name in sorted(texts):
        m = re.fullmatch(r"(call\d+)-(caller|agent)\.wav", name)
        if m is None:
            raise SystemExit(f"redis_workers_bench: unexpected file {name} in the call set")
        out.setdefault(m[1], {})[m[2]] = str(calls / name)
    return out


def run(
    processes: int,
    pg: PrivatePostgres,
    redis: PrivateRedis,
    calls: dict[str, dict[str, str]],
    workdir: Path,
) -> Figures:
    url = pg.create_database(f"redis_bench_{processes}")
    migrate(url)
    engine = make_engine(url)
    jobs = JobStore(engine)
    now = datetime.now(UTC)
    for name, files in calls.items():
        jobs.enqueue(name, files, language="en", ivr_kind=None, not_before=now)
    namespace = f"bench{processes}"
    settings = {"engine": "redis", "namespace": namespace}
    config = workdir / f"hotline-{processes}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": url},
                "asr": {"models": {"en": str(MODEL)}},
                "jobs": settings,
            }
        )
    )
    log = workdir / f"workers-{processes}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotline.app.cli",
                "-c",
                str(config),
                "worker",
                "transcribe",
                "--processes",
                str(processes),
            ],
            cwd=ROOT,
            env={**os.environ, "HOTLINE_REDIS_URL": redis.url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _until(
                lambda: log.read_text().count("transcription worker ready") >= processes,
                READY_TIMEOUT,
                f"{processes} worker process(es) ready",
                proc,
                log,
            )
            publisher = Publisher.connect(
                QueueConfig.from_settings(JobsSettings.model_validate(settings), redis.url)
            )
            outbox = Transcription(jobs, {}, _no_local_worker, _no_delivery, publisher=publisher)
            t0 = time.time()
            sent = outbox.publish_due()
            if sent != len(calls):
                raise SystemExit(f"redis_workers_bench: published {sent} of {len(calls)} jobs")
            _until(
                lambda: jobs.counts().get(DONE, 0) == len(calls),
                RUN_TIMEOUT,
                "every job done",
                proc,
                log,
            )
            publisher.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    with engine.connect() as conn:
        last = conn.execute(select(func.max(TranscriptionJobRow.finished_at))).scalar_one()
        failed = conn.execute(
            select(func.count()).where(TranscriptionJobRow.status != DONE)
        ).scalar_one()
    engine.dispose()
    pg.drop_database(f"redis_bench_{processes}")
    if failed or last is None:
        raise SystemExit(f"redis_workers_bench: {failed} job(s) not done; see {log}")
    legs = sum(read_wav(Path(p)).duration for files in calls.values() for p in files.values())
    return Figures(processes, len(calls), legs, last.timestamp() - t0)


def _until(
    probe: object, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    assert callable(probe)
    deadline = time.monotonic() + timeout
    while not probe():
        if proc.poll() is not None:
            raise SystemExit(
                f"redis_workers_bench: the workers exited ({proc.returncode}):\n"
                f"{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise SystemExit(f"redis_workers_bench: timed out waiting for {what}; see {log}")
        time.sleep(0.1)


def _no_local_worker(worker_id: str) -> WorkerConfig:
    raise AssertionError("the Redis engine starts no local worker")


async def _no_delivery(job: Job) -> None:
    raise AssertionError("the benchmark delivers nothing")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=20.0, help="leg audio to synthesise")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "hotline-asr-bench")
    args = p.parse_args(argv)
    calls_dir, texts = synthesise(args.cache, args.minutes)
    calls = calls_of(calls_dir, texts)
    info = machine(Path("/usr/sbin/asterisk"))
    ram = f"{info.ram_gib:.1f} GiB" if info.ram_gib is not None else "? GiB"
    print(f"date      {datetime.now(UTC):%Y-%m-%d}")
    print(
        f"machine   {info.cpu_model}; {info.cpu_count} CPU(s), "
        f"{len(os.sched_getaffinity(0))} usable; {ram}; Python {info.python}"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load      {load} (1, 5, 15 min) before the runs")
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="redis-bench-") as tmp,
        private_postgres() as pg,
        private_redis() as redis,
    ):
        print(f"servers   {redis_version()}; {pg.version}")
        print(f"audio     {len(calls)} calls, {len(texts)} legs (cached in {args.cache})")
        for n in (1, 2):
            results.append(run(n, pg, redis, calls, Path(tmp)))
    print(
        f"\n{'processes':>9} {'jobs':>5} {'audio s':>8} {'wall s':>8} {'x RT':>7} {'jobs/min':>9}"
    )
    for r in results:
        print(
            f"{r.processes:>9} {r.jobs:>5} {r.leg_audio:8.1f} {r.wall:8.1f} "
            f"{r.x_real_time:7.1f} {r.jobs_per_minute:9.1f}"
        )
    one, two = results
    print(f"\nthroughput 2 processes / 1 process: {two.jobs_per_minute / one.jobs_per_minute:.2f}x")
    print(
        json.dumps(
            {
                "ratio": two.jobs_per_minute / one.jobs_per_minute,
                "runs": [r.__dict__ for r in results],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
