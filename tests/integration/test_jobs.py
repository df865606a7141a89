"""Transcription jobs in the store, on SQLite and PostgreSQL: queued once per call, claimed by
one worker at a time, taken over when a worker's lease runs out, finished once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from hotline.jobs.store import DONE, FAILED, QUEUED, RUNNING, Backlog, JobStore
from testkit.support import poll


def _queue(jobs: JobStore, n: int, prefix: str = "c", due: datetime | None = None) -> None:
    for i in range(n):
        assert jobs.enqueue(
            f"{prefix}{i}",
            {"caller": f"/r/{prefix}{i}-caller.wav"},
            language="en",
            ivr_kind="complaint",
            not_before=due or datetime.now(UTC),
        )


def test_a_call_is_queued_once_and_claimed_in_order(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 2)
    assert not jobs.enqueue(
        "c0",
        {"caller": "/elsewhere.wav"},
        language="en",
        ivr_kind=None,
        not_before=datetime.now(UTC),
    )
    first = jobs.claim("w1", lease=30, max_attempts=3)
    second = jobs.claim("w2", lease=30, max_attempts=3)
    assert first is not None and second is not None
    assert (first.call_id, second.call_id) == ("c0", "c1")
    assert first.files == {"caller": "/r/c0-caller.wav"} and first.attempts == 1
    assert jobs.claim("w3", lease=30, max_attempts=3) is None  # both are leased
    assert jobs.counts() == {RUNNING: 2}


def test_a_job_not_due_yet_waits(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 1, due=datetime.now(UTC) + timedelta(hours=1))
    assert jobs.claim("w1", lease=30, max_attempts=3) is None


def test_concurrent_workers_never_claim_the_same_job(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 40)
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := jobs.claim(name, lease=30, max_attempts=3)) is not None:
            assert jobs.complete(
                job.id, name, transcript={"n": job.call_id}, draft=None, audio_seconds=1.0
            )
            with lock:
                claimed.append(job.call_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"c{i}" for i in range(40))  # each once, none lost
    assert jobs.counts() == {DONE: 40}


def test_a_dead_workers_job_is_taken_over_and_its_late_result_is_refused(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 1)
    dead = jobs.claim("dead", lease=0.3, max_attempts=3)
    assert dead is not None
    again = poll(lambda: jobs.claim("alive", lease=30, max_attempts=3), 10, "the takeover")
    assert again.id == dead.id and again.attempts == 2
    # The first worker wakes up late: it may no longer renew, fail or finish the job.
    assert not jobs.renew(dead.id, "dead", 30)
    assert not jobs.fail(dead.id, "dead", "too late")
    assert not jobs.complete(
        dead.id, "dead", transcript={"by": "dead"}, draft=None, audio_seconds=1.0
    )
    assert jobs.complete(
        again.id, "alive", transcript={"by": "alive"}, draft={"k": 1}, audio_seconds=2.0
    )
    stored = jobs.get("c0")
    assert stored is not None and stored.status == DONE and stored.transcript == {"by": "alive"}


def test_a_job_whose_workers_keep_dying_fails_with_the_reason(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 1)
    for attempt in (1, 2):
        worker = f"w{attempt}"
        claimed = poll(partial(jobs.claim, worker, lease=0.2, max_attempts=2), 10, worker)
        assert claimed.attempts == attempt
    poll(lambda: jobs.give_up(max_attempts=2), 10, "giving up")
    job = jobs.get("c0")
    assert job is not None and job.status == FAILED and "gave up after 2 attempts" in job.error
    assert jobs.claim("w3", lease=30, max_attempts=2) is None


def test_release_fail_and_delivery(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 2)
    a = jobs.claim("w", lease=30, max_attempts=3)
    assert a is not None
    soon = datetime.now(UTC) - timedelta(seconds=1)
    assert jobs.release(a.id, "w", soon, "c0-caller.wav: open, waiting")
    again = jobs.claim("w", lease=30, max_attempts=3)
    assert again is not None and again.id == a.id and again.attempts == 1  # not counted
    assert jobs.fail(again.id, "w", "empty recording")
    b = jobs.claim("w", lease=30, max_attempts=3)
    assert b is not None and b.call_id == "c1"
    assert jobs.complete(b.id, "w", transcript={"t": 1}, draft=None, audio_seconds=3.0)
    finished = jobs.finished_undelivered()
    assert {(j.call_id, j.status, j.error) for j in finished} == {
        ("c0", FAILED, "empty recording"),
        ("c1", DONE, ""),
    }
    jobs.mark_delivered([j.id for j in finished])
    assert jobs.finished_undelivered() == [] and jobs.counts() == {FAILED: 1, DONE: 1}
    assert jobs.claim("w", lease=30, max_attempts=3) is None
    assert QUEUED not in jobs.counts()


def test_the_backlog_counts_the_unfinished_jobs_and_names_the_oldest(engine: Engine) -> None:
    jobs = JobStore(engine)
    assert jobs.backlog() == Backlog(queued=0, running=0, oldest=None)
    _queue(jobs, 3)
    first = jobs.claim("w1", lease=30, max_attempts=3)
    assert first is not None and first.call_id == "c0"
    oldest = first.created_at
    assert jobs.backlog() == Backlog(queued=2, running=1, oldest=oldest)
    assert jobs.complete(first.id, "w1", transcript={}, draft={}, audio_seconds=1.0)
    second = jobs.get("c1")
    assert second is not None
    assert jobs.backlog() == Backlog(queued=2, running=0, oldest=second.created_at)
    for call_id in ("c1", "c2"):
        job = jobs.claim("w1", lease=30, max_attempts=3)
        assert job is not None and job.call_id == call_id
        assert jobs.fail(job.id, "w1", "bad recording")
    assert jobs.backlog() == Backlog(queued=0, running=0, oldest=None)


def test_a_stopped_workers_jobs_go_back_to_the_queue_uncounted(engine: Engine) -> None:
    jobs = JobStore(engine)
    _queue(jobs, 3)
    a = jobs.claim("w1", lease=30, max_attempts=3)
    b = jobs.claim("w2", lease=30, max_attempts=3)
    assert a is not None and b is not None
    assert jobs.release_held("w1", "given back: the service stopped") == [a.id]
    assert jobs.release_held("w1", "again") == []  # nothing held any more
    again = jobs.claim("w3", lease=30, max_attempts=3)
    assert again is not None and again.id == a.id and again.attempts == 1  # not counted
    assert jobs.counts() == {RUNNING: 2, QUEUED: 1}  # w2's job is untouched
