"""Persist the tracker's call updates; a database outage delays writes, never loses them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from hotline.store.calls import CallStore
from telephony.calls import CallUpdate

log = logging.getLogger(__name__)

Listener = Callable[[CallUpdate], None]


class CallRecorder:
    """A single writer: updates queue up in order and are written in batches.

    Each update carries the whole record, so a batch needs only the newest record per call.
    A failed write is retried with backoff and the batch is kept until it lands.
    """

    def __init__(self, store: CallStore, *, retry_max: float = 30.0) -> None:
        self._store = store
        self._queue: asyncio.Queue[CallUpdate] = asyncio.Queue()
        self._retry_max = retry_max
        self._listeners: list[Listener] = []
        self.written = 0
        self.write_failures = 0

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` for every update once it is stored."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def submit(self, updates: Iterable[CallUpdate]) -> None:
        for update in updates:
            self._queue.put_nowait(update)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until everything submitted so far is stored."""
        await self._queue.join()

    async def _write(self, batch: list[CallUpdate]) -> None:
        delay = 0.2
        while True:
            try:
                await asyncio.to_thread(self._store.save_many, [u.record for u in batch])
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
        for update in batch:
            for listener in self._listeners:
                listener(update)
