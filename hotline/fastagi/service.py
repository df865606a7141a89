"""The IVR feature, wired: prompts built, menus served over FastAGI, tickets looked up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hotline.core.logs import bind
from hotline.tickets.store import TicketStore
from ivr.agi.protocol import AgiRequest
from ivr.agi.server import AgiChannel, AgiServer, Handler
from ivr.app import IvrApp
from ivr.menu import IvrSettings
from ivr.prompts import PromptLibrary
from ivr.session import IvrContext
from telephony.tracker import global_call_id

log = logging.getLogger(__name__)


@dataclass
class Ivr:
    app: IvrApp
    server: AgiServer
    prompts: PromptLibrary

    @classmethod
    async def build(
        cls,
        settings: IvrSettings,
        tickets: TicketStore,
        *,
        host: str,
        port: int,
        flagged_priority: int,
        on_round_trip: Callable[[str, float], None] | None = None,
    ) -> Ivr:
        """``settings``: the menus and prompts (``ivr:``); ``host``, ``port``: where the FastAGI
        server listens; ``flagged_priority``: the queue priority of callers with an overdue
        ticket (0: off); ``on_round_trip``: told each FastAGI command's round trip (command,
        seconds), e.g. a histogram's."""
        prompts = PromptLibrary(settings)
        report = await asyncio.to_thread(prompts.build)
        for problem in report.rejected:
            log.warning("recorded prompt ignored: %s", problem)

        async def lookup(number: str) -> str | None:
            return await asyncio.to_thread(tickets.status, number)

        async def flag(caller: str) -> str | None:
            overdue = await asyncio.to_thread(tickets.has_overdue, caller)
            return "overdue_ticket" if overdue else None

        ctx = IvrContext(
            settings=settings,
            prompts=prompts,
            lookup=lookup,
            flag=flag,
            flagged_priority=flagged_priority,
        )
        app = IvrApp(ctx)
        server = AgiServer(
            host,
            port,
            with_call_context(app.handle),
            header_timeout=settings.header_timeout,
            command_timeout=settings.command_timeout,
            max_sessions=settings.max_sessions,
            on_round_trip=on_round_trip,
        )
        return cls(app, server, prompts)


def session_context(request: AgiRequest) -> dict[str, str]:
    """The log context of a FastAGI session: its PBX (the dialplan's AGI argument) and its
    call's global id. The IVR runs on the caller's channel, the call's first, whose uniqueid
    is the call's Linkedid."""
    pbx = request.headers.get("agi_arg_1", "")
    return {"pbx": pbx, "call_id": global_call_id(pbx, request.headers.get("agi_uniqueid", ""))}


def with_call_context(handler: Handler) -> Handler:
    """``handler`` with its session's lines naming the call (``ivr`` knows nothing of the
    service's logging). Each session is a task of its own: the context stays set for the
    server's own lines about the session after the handler returns."""

    async def handle(channel: AgiChannel) -> None:
        bind(**session_context(channel.request))
        await handler(channel)

    return handle
