"""A survey-dialling process: ``python -m hotline.surveys.dial_worker``.

This pjsua2 build allows 4 concurrent call legs per process, so the service dials surveys from
several of these (``dial_pool.DialerPool``). Each registers the survey user agent with the PBX
(the same endpoint; its AOR takes several contacts) and runs the survey script
(``dialer.SipDialer``) for each call it is given. JSON lines on stdin/stdout; the set-up line
carries the SIP password, so it never appears on a command line. Stdin closing (the service
died) ends the process, hanging up its calls.

Commands::

    {"op": "setup", "user": "survey", "password": "...", "registrar": "127.0.0.1:5080",
     "bind": "127.0.0.1", "settings": {...surveys section...}, "prompts": {...},
     "beep": "/p/beep.wav", "default_language": "zh", "recordings_dir": "/r"}
    {"op": "call", "id": "7/1", "survey_id": 7, "n": 1, "number": "139...", "language": "zh"}
    {"op": "hangup", "id": "7/1"}
    {"op": "quit"}

Events: ``ready``, ``registered``, ``result`` (``id`` and the AttemptResult's fields),
``error`` (``message``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from hotline.core.logs import LogSettings, bind, configure_logging
from hotline.surveys.config import SurveySettings
from hotline.surveys.dialer import DialJob, SipDialer, SurveyPrompts
from telephony.sip import Phone, PhoneConfig, SipStack, allocate_ports
from telephony.sip.worker import emit, serve_commands

log = logging.getLogger("hotline.surveys.dial_worker")


class DialWorker:
    def __init__(self, stack: SipStack) -> None:
        self._stack = stack
        self._phone: Phone | None = None
        self._dialer: SipDialer | None = None
        self._calls: dict[str, asyncio.Task[None]] = {}

    async def setup(self, cmd: dict[str, Any]) -> None:
        if cmd.get("log") is not None:  # the service's format (and level) from now on
            configure_logging(LogSettings.model_validate(cmd["log"]))
        ports = allocate_ports(1, low=21000, high=30000)[0]
        registrar = str(cmd["registrar"])
        self._phone = await self._stack.add_phone(
            PhoneConfig(
                str(cmd["user"]),
                sip_port=ports.sip_port,
                rtp_port=ports.rtp_port,
                registrar=f"sip:{registrar}",
                password=str(cmd["password"]),
                bind=str(cmd.get("bind", "127.0.0.1")),
                domain=registrar.rpartition(":")[0],
            )
        )
        await self._phone.wait_registered(15)
        prompts = SurveyPrompts(
            {
                pid: {lang: Path(f) for lang, f in by_lang.items()}
                for pid, by_lang in cmd["prompts"].items()
            },
            Path(cmd["beep"]),
            str(cmd["default_language"]),
        )
        settings = SurveySettings.model_validate(cmd["settings"])
        self._dialer = SipDialer(
            self._phone, registrar, settings, prompts, Path(cmd["recordings_dir"])
        )
        emit("registered")

    def handle(self, cmd: dict[str, Any]) -> Awaitable[None] | None:
        op = cmd.get("op")
        if op == "setup":
            return self._setup_reported(cmd)
        if op == "call":
            self.call(cmd)
        elif op == "hangup":
            self.hangup(str(cmd.get("id")))
        else:
            emit("error", message=f"unknown op {op!r}")
        return None

    async def _setup_reported(self, cmd: dict[str, Any]) -> None:
        try:
            await self.setup(cmd)
        except Exception as exc:  # the pool hears why, then the process ends
            emit("error", message=f"set-up failed: {exc}")
            raise

    def call(self, cmd: dict[str, Any]) -> None:
        ident = str(cmd["id"])
        job = DialJob(
            int(cmd["survey_id"]), int(cmd["n"]), str(cmd["number"]), str(cmd["language"])
        )
        task = asyncio.create_task(self._run(ident, job))
        self._calls[ident] = task

    async def _run(self, ident: str, job: DialJob) -> None:
        bind(survey=job.survey_id)  # this call's own task
        try:
            if self._dialer is None:
                raise RuntimeError("call before setup")
            result = await self._dialer.run(job)
            emit("result", id=ident, **dataclasses.asdict(result))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported to the service, which records the attempt failed
            log.exception("survey call %s failed", ident)
            emit("result", id=ident, outcome="failed", detail=f"dialer error: {exc}")
        finally:
            self._calls.pop(ident, None)

    def hangup(self, ident: str) -> None:
        task = self._calls.get(ident)
        if task is not None:
            task.cancel()  # the dialer hangs the call up on its way out

    async def close(self) -> None:
        for task in list(self._calls.values()):
            task.cancel()
        await asyncio.gather(*self._calls.values(), return_exceptions=True)
        if self._phone is not None:
            await self._phone.close()


def main() -> None:
    # Until the set-up line brings the service's settings: warnings, in the environment's format.
    configure_logging(LogSettings(level="WARNING"))
    asyncio.run(serve_commands(DialWorker))


if __name__ == "__main__":
    main()
