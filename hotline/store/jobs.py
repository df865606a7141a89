"""Transcription jobs in the store: queued once per call, claimed by one worker at a time with
a lease, finished once. Synchronous (workers are processes; the service calls it in threads).

A claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING``: atomic on SQLite (one
writer) and, with ``FOR UPDATE SKIP LOCKED`` and the condition repeated outside, on
PostgreSQL. Every later write by a worker names the worker and ``status = 'running'``, so a
worker whose lease ran out (and whose job another worker took) can neither finish nor fail
that job: a result is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotline.store.job_models import TranscriptionJobRow as J

QUEUED, RUNNING, DONE, FAILED, SKIPPED = "queued", "running", "done", "failed", "skipped"


@dataclass(frozen=True)
class Job:
    id: int
    linkedid: str
    language: str | None
    ivr_kind: str | None
    files: dict[str, str]
    status: str
    attempts: int
    created_at: datetime
    error: str = ""
    transcript: Any = None
    draft: Any = None


_COLUMNS = (J.id, J.linkedid, J.language, J.ivr_kind, J.files, J.status, J.attempts,
            J.created_at, J.error, J.transcript, J.draft)  # fmt: skip


def _job(row: Any) -> Job:
    return Job(*row)


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enqueue(
        self,
        linkedid: str,
        files: dict[str, str],
        *,
        language: str | None,
        ivr_kind: str | None,
        not_before: datetime,
        status: str = QUEUED,
        error: str = "",
    ) -> bool:
        """Queue a call's recordings; False when the call already has a job (a replayed
        hang-up, a restart): each call is transcribed at most once."""
        now = datetime.now(UTC)
        values = {
            "linkedid": linkedid, "language": language, "ivr_kind": ivr_kind, "files": files,
            "status": status, "attempts": 0, "not_before": not_before, "error": error,
            "delivered": False, "created_at": now, "updated_at": now,
        }  # fmt: skip
        with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = (
                dialect.insert(J)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["linkedid"])
                .returning(J.id)
            )
            return conn.execute(stmt).first() is not None

    def claim(self, worker: str, lease: float, max_attempts: int) -> Job | None:
        """The oldest claimable job, now leased to ``worker``: queued and due, or running with
        its lease run out (its worker died). None when there is none."""
        now = datetime.now(UTC)
        claimable = and_(
            J.attempts < max_attempts,
            or_(
                and_(J.status == QUEUED, J.not_before <= now),
                and_(J.status == RUNNING, J.lease_until < now),
            ),
        )
        pick = (
            select(J.id)
            .where(claimable)
            .order_by(J.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(J)
            .where(J.id == pick, claimable)
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
            job_id, worker, status=DONE, transcript=transcript, draft=draft,
            audio_seconds=audio_seconds, error="", finished_at=datetime.now(UTC),
            lease_until=None,
        )  # fmt: skip

    def fail(self, job_id: int, worker: str, reason: str, *, status: str = FAILED) -> bool:
        """Give the job up with ``reason`` (bad recording, no model): not retried."""
        return self._set(
            job_id, worker, status=status, error=reason, finished_at=datetime.now(UTC),
            lease_until=None,
        )  # fmt: skip

    def release(self, job_id: int, worker: str, not_before: datetime, note: str) -> bool:
        """Back to the queue untouched, due again at ``not_before`` (a recording not closed
        yet); the attempt is not counted."""
        return self._set(
            job_id, worker, status=QUEUED, worker=None, lease_until=None,
            not_before=not_before, attempts=J.attempts - 1, error=note,
        )  # fmt: skip

    def _set(self, job_id: int, owner: str, **values: Any) -> bool:
        values["updated_at"] = datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(update(J).where(self._mine(job_id, owner)).values(**values))
        return bool(result.rowcount)

    def give_up(self, max_attempts: int) -> int:
        """Jobs whose workers died ``max_attempts`` times fail with that reason."""
        now = datetime.now(UTC)
        stmt = (
            update(J)
            .where(J.status == RUNNING, J.lease_until < now, J.attempts >= max_attempts)
            .values(
                status=FAILED, finished_at=now, updated_at=now, lease_until=None,
                error=f"gave up after {max_attempts} attempts: the worker stopped each time",
            )
        )  # fmt: skip
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

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

    def get(self, linkedid: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(J.linkedid == linkedid)).first()
        return _job(row) if row is not None else None

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(J.status, func.count()).group_by(J.status)).all()
        return {status: int(n) for status, n in rows}
