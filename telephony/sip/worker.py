"""A phone-hosting process: ``python -m telephony.sip.worker``.

This pjsua2 build allows 4 concurrent call legs per process, so simulations larger than that run
their phones in several workers. A worker reads one JSON command per line on stdin and writes
one JSON event per line on stdout (secrets travel on stdin, never on the command line). It exits
cleanly, hanging up its calls, on ``{"op": "quit"}`` or when stdin closes (its parent died).

Commands::

    {"op": "agent", "id": "1001", "user": "1001", "registrar": "sip:127.0.0.1:5080",
     "password": "...", "after_ms": 1000, "play": "/x.wav", "hangup_after_s": 8.0}
    {"op": "call", "id": "c1", "user": "13800138000", "uri": "sip:12345@127.0.0.1:5080",
     "play": "/y.wav"}
    {"op": "hangup", "id": "c1"}
    {"op": "quit"}

Events: ``ready``; ``registered`` / ``answered`` / ``ended`` (with ``status``) / ``error``
(with ``message``), each with the command's ``id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from telephony.sip.call import CallHandle
from telephony.sip.config import PhoneConfig, allocate_ports
from telephony.sip.errors import SipError
from telephony.sip.phone import Phone
from telephony.sip.stack import SipStack

log = logging.getLogger("telephony.sip.worker")

PORT_LOW, PORT_HIGH = 21000, 30000


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"ev": event, **fields}) + "\n")
    sys.stdout.flush()


class Worker:
    def __init__(self, stack: SipStack) -> None:
        self._stack = stack
        self._phones: dict[str, Phone] = {}
        self._calls: dict[str, CallHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, cmd: dict[str, Any]) -> None:
        op, ident = cmd.get("op"), str(cmd.get("id", ""))
        if op in ("hangup", "dtmf"):
            call = self._calls.get(ident)
            if call is not None and not call.ended:
                self._spawn(
                    ident, call.hangup() if op == "hangup" else call.send_dtmf(str(cmd["digits"]))
                )
            return
        job = {"agent": self._agent, "call": self._call}.get(str(op))
        if job is None:
            emit("error", id=ident, message=f"unknown op {op!r}")
            return
        self._spawn(ident, job(ident, cmd))

    def _spawn(self, ident: str, coro: Any) -> None:
        task = asyncio.create_task(self._guard(ident, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(ident: str, coro: Any) -> None:
        try:
            await coro
        except (SipError, TimeoutError, OSError, KeyError, ValueError) as exc:
            log.warning("worker job %s failed: %s", ident, exc)
            emit("error", id=ident, message=str(exc) or type(exc).__name__)

    async def _phone(self, ident: str, cmd: dict[str, Any]) -> Phone:
        ports = allocate_ports(1, low=PORT_LOW, high=PORT_HIGH)[0]
        phone = await self._stack.add_phone(
            PhoneConfig(
                str(cmd["user"]),
                sip_port=ports.sip_port,
                rtp_port=ports.rtp_port,
                registrar=cmd.get("registrar"),
                auth_user=cmd.get("user") if cmd.get("registrar") else None,
                password=cmd.get("password"),
            )
        )
        self._phones[ident] = phone
        return phone

    async def _agent(self, ident: str, cmd: dict[str, Any]) -> None:
        phone = await self._phone(ident, cmd)
        await phone.wait_registered(10)
        play = cmd.get("play")
        phone.auto_answer(
            after_ms=int(cmd.get("after_ms", 0)),
            play=Path(play) if play else None,
            loop_play=True,
            hangup_after_s=cmd.get("hangup_after_s"),
        )
        emit("registered", id=ident)

    async def _call(self, ident: str, cmd: dict[str, Any]) -> None:
        phone = await self._phone(ident, cmd)
        try:
            call = await phone.dial(str(cmd["uri"]))
            self._calls[ident] = call
            await call.wait_answered(15)
            emit("answered", id=ident, at=call.answered_at)
            play = cmd.get("play")
            player = asyncio.create_task(call.play(play, loop=True)) if play else None
            try:
                end = await call.wait_ended(None)
            finally:
                if player is not None:
                    player.cancel()
                    with contextlib.suppress(asyncio.CancelledError, SipError):
                        await player
            emit("ended", id=ident, status=end.status, at=end.ended_at)
        finally:
            self._calls.pop(ident, None)
            self._phones.pop(ident, None)
            await phone.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for phone in list(self._phones.values()):
            await phone.close()


class CommandHandler(Protocol):
    def handle(self, cmd: dict[str, Any]) -> Awaitable[None] | None: ...

    async def close(self) -> None: ...


async def serve_commands(start: Callable[[SipStack], CommandHandler]) -> None:
    """Run a worker: one SIP stack, JSON commands from stdin until ``quit`` or end of input
    (its parent died), then ``close`` (hanging up). ``start(stack)`` makes the handler."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with SipStack(log_level=0) as stack:
        handler = start(stack)
        emit("ready", max_calls=stack.max_calls)
        try:
            while line := await reader.readline():
                try:
                    cmd = json.loads(line)
                except json.JSONDecodeError as exc:
                    emit("error", id="", message=f"bad command line: {exc}")
                    continue
                if cmd.get("op") == "quit":
                    break
                pending = handler.handle(cmd)
                if pending is not None:
                    await pending
        finally:
            await handler.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve_commands(Worker))


if __name__ == "__main__":
    main()
