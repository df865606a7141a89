"""A worker's store that waits for the database: every call is retried with backoff while the
database is unreachable, so a database outage delays jobs and loses none (the message stays
unacknowledged, the job stays in the store). Only when the worker is stopping does it give up,
with ``StoreUnavailable``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from hotline.jobs.store import Job, JobStore

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_DELAY, MAX_DELAY = 0.5, 30.0  # seconds between tries: doubling up to the maximum


class StoreUnavailable(Exception):
    """The database stayed unreachable until the worker was told to stop."""


def unreachable(exc: DBAPIError) -> bool:
    """A lost or refused connection (worth waiting for), not a bug in a statement."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)


def first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Patience:
    """Runs store calls until they succeed or ``stopping`` is set; logs an outage once."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self._down = False
        self._lock = threading.Lock()

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = FIRST_DELAY
        while True:
            try:
                result = fn(*args, **kwargs)
            except DBAPIError as exc:
                if not unreachable(exc):
                    raise
                with self._lock:
                    if not self._down:
                        self._down = True
                        log.error(
                            "database unreachable (%s): waiting for it, retrying with "
                            "backoff; no job is lost",
                            first_line(exc),
                        )
                if self.stopping.is_set():
                    raise StoreUnavailable(first_line(exc)) from None
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            with self._lock:
                if self._down:
                    self._down = False
                    log.info("database reachable again")
            return result


class PatientJobStore(JobStore):
    """The ``JobStore`` a Redis worker uses (see the module's docstring)."""

    def __init__(self, engine: Engine, patience: Patience) -> None:
        super().__init__(engine)
        self._wait = patience

    def by_id(self, job_id: int) -> Job | None:
        return self._wait(super().by_id, job_id)

    def claim_job(self, job_id: int, worker: str, lease: float, max_attempts: int) -> Job | None:
        return self._wait(super().claim_job, job_id, worker, lease, max_attempts)

    def give_up(self, max_attempts: int, job_id: int | None = None) -> int:
        return self._wait(super().give_up, max_attempts, job_id)

    def mark_published(self, job_ids: list[int]) -> None:
        self._wait(super().mark_published, job_ids)

    def _set(self, job_id: int, owner: str, **values: Any) -> bool:
        # complete, fail, release and renew all end here.
        return self._wait(super()._set, job_id, owner, **values)

    def renew(self, job_id: int, worker: str, lease: float) -> bool:
        try:
            return super().renew(job_id, worker, lease)
        except StoreUnavailable:  # stopping, database down: the lease runs out, another takes over
            return False
