"""Phones spread over worker processes, for simulations larger than one process's 4 call legs."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from telephony.sip.errors import CallFailed, SipStackError
from telephony.sip.worker_client import WorkerProcess

LEGS_PER_WORKER = 4


class PoolFull(SipStackError):
    """Every worker's legs are taken and no new worker may start."""


@dataclass
class Track:
    """What the pool knows of one agent or call in a worker."""

    ident: str
    worker: WorkerProcess
    registered: asyncio.Future[None] = field(default_factory=asyncio.Future)
    answered: asyncio.Future[float] = field(default_factory=asyncio.Future)
    ended: asyncio.Future[int] = field(default_factory=asyncio.Future)


class PhonePool:
    """Registers agents and places calls in worker processes, starting workers as needed."""

    def __init__(self, max_workers: int = 8) -> None:
        self._max_workers = max_workers
        self._agent_workers: list[WorkerProcess] = []
        self._call_workers: list[WorkerProcess] = []
        self._tracks: dict[str, Track] = {}
        self._load: dict[WorkerProcess, int] = {}
        self._ids = itertools.count(1)
        self._starting = asyncio.Lock()

    @property
    def calls_in_progress(self) -> int:
        return sum(
            1 for t in self._tracks.values() if t.ident.startswith("c") and not t.ended.done()
        )

    async def _worker(self, kind: str) -> WorkerProcess:
        """A running worker of ``kind`` with a free leg, started if need be; its leg is taken.

        Under a lock: concurrent callers must neither pick a worker that is still starting nor
        both start one when a single new worker would do."""
        async with self._starting:
            workers = self._agent_workers if kind == "agent" else self._call_workers
            worker = next((w for w in workers if self._load[w] < LEGS_PER_WORKER), None)
            if worker is None:
                if len(self._agent_workers) + len(self._call_workers) >= self._max_workers:
                    raise PoolFull(f"phone pool is at its limit of {self._max_workers} workers")
                worker = WorkerProcess(self._on_event, name=f"sip-{kind}-{next(self._ids)}")
                await worker.start()
                self._load[worker] = 0
                workers.append(worker)
            self._load[worker] += 1
            return worker

    def _on_event(self, event: dict[str, Any]) -> None:
        track = self._tracks.get(str(event.get("id")))
        if track is None:
            return
        kind = event.get("ev")
        if kind == "registered" and not track.registered.done():
            track.registered.set_result(None)
        elif kind == "answered" and not track.answered.done():
            track.answered.set_result(float(event.get("at") or 0.0))
        elif kind == "ended":
            self._finish(track, int(event.get("status") or 0))
        elif kind == "error":
            exc = CallFailed(f"{track.ident}: {event.get('message')}")
            for fut in (track.registered, track.answered):
                if not fut.done():
                    fut.set_exception(exc)
                    fut.exception()  # consumed here: the owner sees it through ``ended``
            self._finish(track, 0)

    def _finish(self, track: Track, status: int) -> None:
        if not track.ended.done():
            track.ended.set_result(status)
            if track.ident.startswith("c"):
                self._load[track.worker] -= 1

    async def add_agent(
        self,
        user: str,
        registrar: str,
        password: str,
        *,
        after_ms: int,
        hangup_after_s: float | None,
        play: str | None,
    ) -> Track:
        # An agent holds at most one call at a time (ringinuse=no): one leg.
        worker = await self._worker("agent")
        track = Track(f"a{user}", worker)
        self._tracks[track.ident] = track
        worker.send(
            op="agent",
            id=track.ident,
            user=user,
            registrar=registrar,
            password=password,
            after_ms=after_ms,
            hangup_after_s=hangup_after_s,
            play=play,
        )
        await asyncio.wait_for(asyncio.shield(track.registered), 15)
        return track

    async def call(self, user: str, uri: str, play: str | None = None) -> Track | None:
        """Place a call; None when every worker is busy and no new one may start."""
        try:
            worker = await self._worker("caller")
        except PoolFull:
            return None
        track = Track(f"c{next(self._ids)}", worker)
        self._tracks[track.ident] = track
        worker.send(op="call", id=track.ident, user=user, uri=uri, play=play)
        return track

    def send_dtmf(self, track: Track, digits: str) -> None:
        """Send RFC 4733 digits on an answered call."""
        if not track.ended.done():
            track.worker.send(op="dtmf", id=track.ident, digits=digits)

    def hangup(self, track: Track) -> None:
        if not track.ended.done():
            track.worker.send(op="hangup", id=track.ident)

    async def close(self) -> None:
        workers = self._agent_workers + self._call_workers
        self._agent_workers, self._call_workers = [], []
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
        for track in self._tracks.values():
            self._finish(track, 0)
