"""Leadership through a PostgreSQL session-level advisory lock.

The lock lives as long as the database session that took it: when the active instance dies,
its connection closes and PostgreSQL frees the lock at once, so a standby waiting for it takes
over within ``retry_seconds``. The active confirms every ``check_seconds`` that its session
still holds the lock; when it cannot (the database restarted, the network broke, someone
terminated the session), ``hold`` raises ``LeadershipLost`` and the instance stops before a
standby can be sure of the lock. TCP keepalives on the lock's connection make a silent network
break visible to both sides in seconds rather than hours.

Blocking database calls run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hotline.ha.config import HaSettings

log = logging.getLogger(__name__)

# libpq keepalives: a dead peer is noticed after about idle + interval * count seconds.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
_APP_PREFIX = "hotline-ha:"


class LeadershipError(Exception):
    """Leadership cannot work as configured (e.g. not a PostgreSQL database)."""


class LeadershipLost(Exception):
    """The active instance can no longer confirm it holds the lock: it must stop now."""


def default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Leadership:
    def __init__(self, database_url: str, settings: HaSettings, instance: str = "") -> None:
        if not database_url.startswith("postgresql"):
            raise LeadershipError("ha: leadership needs a PostgreSQL database (database.url)")
        self.settings = settings
        self.instance = instance or settings.instance or default_instance()
        self._engine = create_engine(
            database_url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # never sit idle in a transaction for hours
            connect_args={
                **_KEEPALIVES,
                "connect_timeout": max(1, int(settings.check_timeout)),
                "application_name": f"{_APP_PREFIX}{self.instance}",
            },
        )
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # the connection is used from worker threads
        self.is_leader = False
        self._failures = 0
        self.attempts = 0  # times the lock was asked for
        self.confirmed = 0  # times the active confirmed it still holds it

    # -- the lock's key as PostgreSQL shows it in pg_locks (two 32-bit halves) ----------------
    @property
    def _key_parts(self) -> tuple[int, int]:
        key = self.settings.lock_key
        return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF

    async def wait_until_leader(self) -> None:
        """Return once this instance holds the lock (a standby waits here)."""
        announced = False
        while not await asyncio.to_thread(self._try):
            if not announced:
                log.info(
                    "standby: %s waits; the active instance is %s",
                    self.instance,
                    await self.holder() or "unknown",
                )
                announced = True
            await asyncio.sleep(self.settings.retry_seconds)
        self.is_leader = True
        log.warning("leadership: %s is now the active instance", self.instance)

    def _try(self) -> bool:
        with self._lock:
            self.attempts += 1
            try:
                if self._conn is None:
                    self._conn = self._engine.connect()
                got = self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": self.settings.lock_key}
                ).scalar_one()
            except SQLAlchemyError as exc:
                self._drop()
                self._failures += 1
                if self._failures in (1, 10) or self._failures % 60 == 0:
                    log.warning(
                        "standby: cannot ask the database for the lock (%s); retrying",
                        type(exc).__name__,
                    )
                return False
            self._failures = 0
            if not got:
                # Keep no idle session open while waiting: one per attempt is cheap.
                self._drop()
            return bool(got)

    async def hold(self) -> None:
        """While active: confirm the lock every ``check_seconds``; raise ``LeadershipLost``
        when it is gone or the database does not answer within ``check_timeout``."""
        s = self.settings
        while True:
            await asyncio.sleep(s.check_seconds)
            try:
                held = await asyncio.wait_for(asyncio.to_thread(self._check), s.check_timeout)
            except TimeoutError:
                raise LeadershipLost(
                    f"the database did not answer in {s.check_timeout:g} s"
                ) from None
            if not held:
                self.is_leader = False
                raise LeadershipLost("the advisory lock is no longer held")
            self.confirmed += 1

    def _check(self) -> bool:
        hi, lo = self._key_parts
        with self._lock:
            if self._conn is None:
                return False
            try:
                n = self._conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND granted"
                        " AND classid = :hi AND objid = :lo AND objsubid = 1"
                    ),
                    {"hi": hi, "lo": lo},
                ).scalar_one()
            except SQLAlchemyError as exc:
                log.error("leadership: checking the lock failed: %s", type(exc).__name__)
                self._drop()
                return False
        return bool(n)

    async def holder(self) -> str | None:
        """The instance name of whoever holds the lock now, if any."""
        return await asyncio.to_thread(self._holder)

    def _holder(self) -> str | None:
        hi, lo = self._key_parts
        try:
            with self._engine.connect() as conn:
                name: Any = conn.execute(
                    text(
                        "SELECT a.application_name FROM pg_locks l"
                        " JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE l.locktype = 'advisory' AND l.granted"
                        " AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"
                    ),
                    {"hi": hi, "lo": lo},
                ).scalar()
        except SQLAlchemyError:
            return None
        return str(name).removeprefix(_APP_PREFIX) if name else None

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:  # already broken: closing it is all we wanted
                pass
            self._conn = None

    def close(self) -> None:
        """Release the lock (by ending the session) and the engine."""
        with self._lock:
            self._drop()
        self.is_leader = False
        self._engine.dispose()
