"""Drive a ``telephony.sip.worker`` process from asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from telephony.processes import wait_or_kill
from telephony.sip.errors import SipStackError

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]


class WorkerProcess:
    """One worker subprocess. Events go to ``on_event``; ``stop`` ends it cleanly."""

    def __init__(
        self, on_event: EventHandler, name: str = "sip-worker", module: str = "telephony.sip.worker"
    ) -> None:
        self._on_event = on_event
        self.name = name
        self.module = module  # any process speaking the same JSON lines (ready first)
        self._proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self._reader: asyncio.Task[None] | None = None
        self.max_calls = 0

    async def start(self, timeout: float = 20.0) -> None:
        # Own session: a Ctrl-C on the terminal reaches only the parent, which stops us in order.
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(ready))
        try:
            event = await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            await self.stop()
            raise SipStackError(f"{self.name} did not start within {timeout} s") from None
        self.max_calls = int(event.get("max_calls", 4))

    def send(self, **cmd: Any) -> None:
        if self._proc is None or self._proc.stdin is None or self._proc.returncode is not None:
            raise SipStackError(f"{self.name} is not running")
        self._proc.stdin.write((json.dumps(cmd) + "\n").encode())

    async def _read(self, ready: asyncio.Future[dict[str, Any]]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s wrote a non-JSON line: %r", self.name, line[:200])
                continue
            if event.get("ev") == "ready" and not ready.done():
                ready.set_result(event)
                continue
            self._on_event(event)
        if not ready.done():
            ready.set_exception(SipStackError(f"{self.name} exited before it was ready"))
        else:
            self._on_event({"ev": "exited"})  # its owner fails what was in flight

    async def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(ConnectionError):
                    proc.stdin.write(b'{"op": "quit"}\n')
                    proc.stdin.close()
            await wait_or_kill(proc, timeout, self.name)
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
