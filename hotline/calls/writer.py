"""Persist the tracker's call updates; a database outage delays writes, never loses them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from hotline.calls.store import CallStore
from hotline.telemetry.metrics import UNOBSERVED, Observer
from telephony.tracker import CallUpdate

log = logging.getLogger(__name__)

Listener = Callable[[CallUpdate], None]


class CallWriter:
    """A single writer: updates queue up in order and are written in batches.

    Each update carries the whole record, so a batch needs only the newest record per call.
    A failed write is retried with backoff and the batch is kept until it lands. Writes start
    at most every ``batch_interval`` seconds (``drain`` does not wait for that): an update
    that follows a quiet spell is written at once, under load more of them share a write.

    ``stored_latency`` is told, for each update stored, the seconds since it was submitted: the
    feed submits as the AMI event arrives, so this is the event's way to the database.
    """

    def __init__(
        self,
        store: CallStore,
        *,
        retry_max: float = 30.0,
        batch_interval: float = 0.1,
        stored_latency: Observer = UNOBSERVED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        # Each update with when it was submitted (``clock``).
        self._queue: asyncio.Queue[tuple[CallUpdate, float]] = asyncio.Queue()
        self._stored_latency = stored_latency
        self._clock = clock
        self._retry_max = retry_max
        self._batch_interval = batch_interval
        self._draining = 0  # drain() calls waiting: no pause between writes meanwhile
        self._wake = asyncio.Event()  # set by drain() to cut a pause short
        self._listeners: list[Listener] = []
        self.written = 0
        self.write_failures = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` for every update once it is stored."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def submit(self, updates: Iterable[CallUpdate]) -> None:
        now = self._clock()
        for update in updates:
            self._queue.put_nowait((update, now))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            started = loop.time()
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()
            await self._pause(started + self._batch_interval - loop.time())

    async def drain(self) -> None:
        """Wait until everything submitted so far is stored."""
        self._draining += 1
        self._wake.set()
        try:
            await self._queue.join()
        finally:
            self._draining -= 1

    async def _pause(self, seconds: float) -> None:
        """Let updates gather before the next write, unless someone is waiting for them.

        Every write wakes the writer thread, which then competes with the event loop for the
        GIL; under load, back-to-back writes of a few updates each slowed the event loop far
        more than fewer, larger writes (several updates of a call become one row). The pause
        comes after a write, with no update taken from the queue, so cancelling it loses none.
        """
        if seconds <= 0 or self._draining:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _write(self, batch: list[tuple[CallUpdate, float]]) -> None:
        delay = 0.2
        while True:
            try:
                await asyncio.to_thread(self._store.save_many, [u.record for u, _ in batch])
                break
            except SQLAlchemyError as exc:
                self.write_failures += 1
                log.error(
                    "storing %d call update(s) failed (%s); retrying in %.1f s",
                    len(batch),
                    exc.__class__.__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(self._retry_max, delay * 2)
        self.written += len(batch)
        stored = self._clock()
        for update, submitted in batch:
            self._stored_latency.observe(stored - submitted)
            for listener in self._listeners:
                listener(update)
