"""Survey calls spread over dialling processes (``dial_worker``), at most
``CALLS_PER_PROCESS`` each: the scheduler's ``Dialer`` for the service.

A process that dies takes its calls with it: each ends as ``interrupted`` (the citizen may
have been rung), which is final, like a service stopped mid-call; the process is started
again for the next calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

from hotline.core.logs import LEVELS, LogSettings
from hotline.surveys.attempt import AttemptResult, job_outcome
from hotline.surveys.config import SurveySettings
from hotline.surveys.dialer import DialJob, SurveyPrompts
from hotline.surveys.store import Claim
from hotline.telemetry.metrics import WorkerMetrics
from telephony.sip.errors import SipStackError
from telephony.sip.worker_client import WorkerProcess

log = logging.getLogger(__name__)

CALLS_PER_PROCESS = 4  # PJSUA_MAX_CALLS of the pjsua2 wheel: 4 call legs per process
REGISTER_TIMEOUT = 20.0


class _Proc:
    def __init__(self, index: int) -> None:
        self.index = index
        self.calls: dict[str, asyncio.Future[AttemptResult]] = {}
        self.registered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.worker = WorkerProcess(
            self._on_event, f"survey-dialer-{index}", module="hotline.surveys.dial_worker"
        )
        self.alive = False

    @property
    def capacity(self) -> int:
        """Calls this process may carry: what its pjsua2 build allows, at most our planning
        figure (the pool's size was planned with it)."""
        return min(self.worker.max_calls or CALLS_PER_PROCESS, CALLS_PER_PROCESS)

    def _on_event(self, event: dict[str, Any]) -> None:
        ev = event.get("ev")
        if ev == "registered" and not self.registered.done():
            self.registered.set_result(None)
        elif ev == "result":
            fut = self.calls.pop(str(event.get("id")), None)
            if fut is not None and not fut.done():
                fields = {k: event.get(k) for k in ("sip_status", "result", "comment_path")}
                fut.set_result(
                    AttemptResult(
                        str(event.get("outcome")),
                        digits=str(event.get("digits") or ""),
                        detail=str(event.get("detail") or ""),
                        **fields,
                    )
                )
        elif ev == "error":
            log.warning("%s: %s", self.worker.name, event.get("message"))
            if not self.registered.done():
                self.registered.set_exception(SipStackError(str(event.get("message"))))
        elif ev == "exited":
            self.alive = False
            if not self.worker.stopping:
                log.error(
                    "%s died with %d survey call(s) in progress", self.worker.name, len(self.calls)
                )
            for fut in self.calls.values():
                if not fut.done():
                    fut.set_result(AttemptResult("interrupted", detail="dialer process died"))
            self.calls.clear()
            if not self.registered.done():
                self.registered.set_exception(SipStackError(f"{self.worker.name} exited"))


class DialerPool:
    def __init__(
        self,
        settings: SurveySettings,
        *,
        user: str,
        password: str,
        registrar: str,
        prompts: SurveyPrompts,
        recordings_dir: Path,
        log: LogSettings | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        """``log``: the service's logging settings in force; the dialling processes write in
        its format, warnings and errors only (as they always have) unless it debugs.
        ``metrics``: each call counted by outcome and timed. The dialling processes speak JSON
        lines to this pool, which sees every call begin and end, so it keeps their job metrics
        on the service's registry (one scrape) rather than each serving its own."""
        self._settings = settings
        self._metrics = metrics
        self._setup = {
            "op": "setup",
            "user": user,
            "password": password,
            "registrar": registrar,
            "bind": settings.sip.bind,
            "settings": settings.model_dump(mode="json"),
            "prompts": {
                p: {lang: str(f) for lang, f in by.items()} for p, by in prompts.files.items()
            },
            "beep": str(prompts.beep),
            "default_language": prompts.default_language,
            "recordings_dir": str(recordings_dir),
        }
        if log is not None:
            level = "DEBUG" if log.level == "DEBUG" else max(log.level, "WARNING", key=LEVELS.index)
            self._setup["log"] = log.model_copy(update={"level": level}).model_dump()
        self.size = math.ceil(settings.max_concurrent / CALLS_PER_PROCESS)
        self._procs: list[_Proc] = []
        self._lock = asyncio.Lock()
        self._next = 0

    async def _proc(self) -> _Proc:
        """A live process with a free call slot (started if need be), its slot taken."""
        async with self._lock:
            self._procs = [p for p in self._procs if p.alive or p.calls]
            free = [p for p in self._procs if p.alive and len(p.calls) < p.capacity]
            if free:
                return min(free, key=lambda p: len(p.calls))
            if len(self._procs) >= self.size:
                raise SipStackError("every survey dialler is busy")  # the scheduler's cap
            self._next += 1
            proc = _Proc(self._next)
            await proc.worker.start()
            proc.alive = True
            proc.worker.send(**self._setup)
            try:
                await asyncio.wait_for(asyncio.shield(proc.registered), REGISTER_TIMEOUT)
            except (TimeoutError, SipStackError):
                await proc.worker.stop()
                raise
            self._procs.append(proc)
            return proc

    async def call(self, claim: Claim) -> AttemptResult:
        started = time.monotonic()
        result = await self._call(claim)
        if self._metrics is not None:
            self._metrics.job(job_outcome(result), time.monotonic() - started)
        return result

    async def _call(self, claim: Claim) -> AttemptResult:
        job = DialJob.of(claim)
        try:
            proc = await self._proc()
        except SipStackError as exc:
            # Nothing was dialled: an attempt that failed on our side, retried at its spacing.
            return AttemptResult("failed", detail=f"no survey dialler: {exc}")
        ident = f"{job.survey_id}/{job.n}"
        fut: asyncio.Future[AttemptResult] = asyncio.get_running_loop().create_future()
        proc.calls[ident] = fut
        proc.worker.send(
            op="call",
            id=ident,
            survey_id=job.survey_id,
            n=job.n,
            number=job.number,
            language=job.language,
        )
        try:
            return await fut
        except asyncio.CancelledError:
            proc.calls.pop(ident, None)
            if proc.alive:
                proc.worker.send(op="hangup", id=ident)
            raise

    async def close(self) -> None:
        for proc in self._procs:
            await proc.worker.stop()
        self._procs.clear()
