"""Transcription jobs in the store: queued once per call, claimed by one worker at a time with
a lease, finished once. Synchronous (workers are processes; the service calls it in threads).

A claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING``: atomic on SQLite (one
writer) and, with ``FOR UPDATE SKIP LOCKED`` and the condition repeated outside, on
PostgreSQL. Every later write by a worker names the worker and ``status = 'running'``, so a
worker whose lease ran out (and whose job another worker took) can neither finish nor fail
that job: a result is stored once.

With the Redis engine the rows stay the record of truth and the queue's messages only carry a
job's id: ``claim_job`` claims that one job under the same conditions, ``to_publish`` is the
outbox (jobs never published, or whose message looks lost), so a message delivered twice, late
or never changes nothing and loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotline.db.job_models import TranscriptionJobRow as J

QUEUED, RUNNING, DONE, FAILED, SKIPPED = "queued", "running", "done", "failed", "skipped"


@dataclass(frozen=True)
class Backlog:
    """The unfinished jobs: how many wait (queued, due or not) and run, and when the oldest of
    them was created (None: none)."""

    queued: int
    running: int
    oldest: datetime | None


@dataclass(frozen=True)
class Job:
    id: int
    call_id: str
    language: str | None
    ivr_kind: str | None
    files: dict[str, str]
    status: str
    attempts: int
    created_at: datetime
    error: str = ""
    transcript: Any = None
    draft: Any = None
    worker: str | None = None
    not_before: datetime | None = None
    lease_until: datetime | None = None
    finished_at: datetime | None = None
    ivr_category: str | None = None  # chosen at an IVR category level: the draft's prior

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED, SKIPPED)


_COLUMNS = (
    J.id,
    J.call_id,
    J.language,
    J.ivr_kind,
    J.files,
    J.status,
    J.attempts,
    J.created_at,
    J.error,
    J.transcript,
    J.draft,
    J.worker,
    J.not_before,
    J.lease_until,
    J.finished_at,
    J.ivr_category,
)


def _job(row: Any) -> Job:
    return Job(*row)


def _claimable(now: datetime, max_attempts: int) -> Any:
    """Queued and due, or running with its lease run out (its worker died)."""
    return and_(
        J.attempts < max_attempts,
        or_(
            and_(J.status == QUEUED, J.not_before <= now),
            and_(J.status == RUNNING, J.lease_until < now),
        ),
    )


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enqueue(
        self,
        call_id: str,
        files: dict[str, str],
        *,
        language: str | None,
        ivr_kind: str | None,
        not_before: datetime,
        ivr_category: str | None = None,
        status: str = QUEUED,
        error: str = "",
    ) -> bool:
        """Queue a call's recordings; False when the call already has a job (a replayed
        hang-up, a restart): each call is transcribed at most once."""
        now = datetime.now(UTC)
        values = {
            "call_id": call_id,
            "language": language,
            "ivr_kind": ivr_kind,
            "ivr_category": ivr_category,
            "files": files,
            "status": status,
            "attempts": 0,
            "not_before": not_before,
            "error": error,
            "delivered": False,
            "created_at": now,
            "updated_at": now,
        }
        with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = (
                dialect.insert(J)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["call_id"])
                .returning(J.id)
            )
            return conn.execute(stmt).first() is not None

    def claim(self, worker: str, lease: float, max_attempts: int) -> Job | None:
        """The oldest claimable job, now leased to ``worker``: queued and due, or running with
        its lease run out (its worker died). None when there is none."""
        now = datetime.now(UTC)
        claimable = _claimable(now, max_attempts)
        pick = (
            select(J.id)
            .where(claimable)
            .order_by(J.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return self._lease(and_(J.id == pick, claimable), worker, lease, now)

    def claim_job(self, job_id: int, worker: str, lease: float, max_attempts: int) -> Job | None:
        """Job ``job_id`` leased to ``worker`` (its attempt counted) if it is claimable: queued
        and due, or running with its lease run out. None otherwise (finished, not due, another
        worker's live lease, out of attempts): a redelivered message claims nothing."""
        now = datetime.now(UTC)
        return self._lease(and_(J.id == job_id, _claimable(now, max_attempts)), worker, lease, now)

    def _lease(self, which: Any, worker: str, lease: float, now: datetime) -> Job | None:
        """Lease the job ``which`` selects to ``worker``, counting the attempt."""
        stmt = (
            update(J)
            .where(which)
            .values(
                status=RUNNING,
                worker=worker,
                attempts=J.attempts + 1,
                lease_until=now + timedelta(seconds=lease),
                updated_at=now,
            )
            .returning(*_COLUMNS)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return _job(row) if row is not None else None

    def _mine(self, job_id: int, worker: str) -> Any:
        return and_(J.id == job_id, J.worker == worker, J.status == RUNNING)

    def renew(self, job_id: int, worker: str, lease: float) -> bool:
        """Extend the lease while the worker is still at it; False when it lost the job."""
        now = datetime.now(UTC)
        return self._set(job_id, worker, lease_until=now + timedelta(seconds=lease))

    def complete(
        self, job_id: int, worker: str, *, transcript: Any, draft: Any, audio_seconds: float
    ) -> bool:
        """Store the result; False (nothing stored) when the job is no longer this worker's."""
        return self._set(
            job_id,
            worker,
            status=DONE,
            transcript=transcript,
            draft=draft,
            audio_seconds=audio_seconds,
            error="",
            finished_at=datetime.now(UTC),
            lease_until=None,
        )

    def fail(self, job_id: int, worker: str, reason: str, *, status: str = FAILED) -> bool:
        """Give the job up with ``reason`` (bad recording, no model): not retried."""
        return self._set(
            job_id,
            worker,
            status=status,
            error=reason,
            finished_at=datetime.now(UTC),
            lease_until=None,
        )

    def release(self, job_id: int, worker: str, not_before: datetime, note: str) -> bool:
        """Back to the queue untouched, due again at ``not_before`` (a recording not closed
        yet, a worker stopping); the attempt is not counted. Unpublished: the outbox sends it
        again unless the worker does (and marks it published)."""
        return self._set(
            job_id,
            worker,
            status=QUEUED,
            worker=None,
            lease_until=None,
            not_before=not_before,
            attempts=J.attempts - 1,
            error=note,
            published_at=None,
        )

    def release_held(self, worker: str, note: str) -> list[int]:
        """Every job ``worker`` still holds back to the queue, due now, its attempt not
        counted: the worker was stopped by its parent before it finished (the job is done
        again, by another worker or after a restart). The ids released."""
        now = datetime.now(UTC)
        stmt = (
            update(J)
            .where(J.worker == worker, J.status == RUNNING)
            .values(
                status=QUEUED,
                worker=None,
                lease_until=None,
                not_before=now,
                attempts=J.attempts - 1,
                error=note,
                published_at=None,
                updated_at=now,
            )
            .returning(J.id)
        )
        with self._engine.begin() as conn:
            return [row[0] for row in conn.execute(stmt)]

    def _set(self, job_id: int, owner: str, **values: Any) -> bool:
        values["updated_at"] = datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(update(J).where(self._mine(job_id, owner)).values(**values))
        return bool(result.rowcount)

    def give_up(self, max_attempts: int, job_id: int | None = None) -> int:
        """Jobs (or job ``job_id``) whose workers died ``max_attempts`` times fail with that
        reason."""
        now = datetime.now(UTC)
        which = [J.status == RUNNING, J.lease_until < now, J.attempts >= max_attempts]
        if job_id is not None:
            which.append(J.id == job_id)
        stmt = (
            update(J)
            .where(*which)
            .values(
                status=FAILED,
                finished_at=now,
                updated_at=now,
                lease_until=None,
                error=f"gave up after {max_attempts} attempts: the worker stopped each time",
            )
        )
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    # -- the outbox (Redis engine) ------------------------------------------------------------
    def to_publish(self, redelivery_after: float, max_attempts: int, limit: int = 200) -> list[Job]:
        """Jobs whose message must be sent (again): queued and due, never published or published
        more than ``redelivery_after`` seconds ago (lost); running with their lease run out
        since they were last published (their worker died). Oldest first."""
        now = datetime.now(UTC)
        stale = now - timedelta(seconds=redelivery_after)
        stmt = (
            select(*_COLUMNS)
            .where(
                or_(
                    and_(
                        J.status == QUEUED,
                        J.not_before <= now,
                        or_(J.published_at.is_(None), J.published_at < stale),
                    ),
                    and_(
                        J.status == RUNNING,
                        J.lease_until < now,
                        J.attempts < max_attempts,
                        or_(J.published_at.is_(None), J.published_at < J.lease_until),
                    ),
                )
            )
            .order_by(J.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def mark_published(self, job_ids: list[int]) -> None:
        """Their message was handed to the queue just now."""
        if job_ids:
            with self._engine.begin() as conn:
                conn.execute(
                    update(J).where(J.id.in_(job_ids)).values(published_at=datetime.now(UTC))
                )

    def by_id(self, job_id: int) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(J.id == job_id)).first()
        return _job(row) if row is not None else None

    # -- the service's side ------------------------------------------------------------------
    def finished_undelivered(self, limit: int = 100) -> list[Job]:
        """Jobs done (or failed) whose outcome the service has not applied yet."""
        stmt = (
            select(*_COLUMNS)
            .where(J.delivered.is_(False), J.status.in_((DONE, FAILED, SKIPPED)))
            .order_by(J.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def mark_delivered(self, job_ids: list[int]) -> None:
        if job_ids:
            with self._engine.begin() as conn:
                conn.execute(update(J).where(J.id.in_(job_ids)).values(delivered=True))

    def get(self, call_id: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(J.call_id == call_id)).first()
        return _job(row) if row is not None else None

    def backlog(self) -> Backlog:
        """The jobs not finished yet (queued or running), for the queue's gauges."""
        unfinished = J.status.in_((QUEUED, RUNNING))
        stmt = select(J.status, func.count(), func.min(J.created_at)).where(unfinished)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.group_by(J.status)).all()
        n = {status: int(count) for status, count, _ in rows}
        firsts = [first for _, _, first in rows if first is not None]
        return Backlog(n.get(QUEUED, 0), n.get(RUNNING, 0), min(firsts) if firsts else None)

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(J.status, func.count()).group_by(J.status)).all()
        return {status: int(n) for status, n in rows}
