"""The IVR feature, wired: prompts built, menus served over FastAGI, tickets looked up."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hotline.app.settings import Settings
from hotline.tickets.store import TicketStore
from ivr.agi.server import AgiServer
from ivr.app import IvrApp
from ivr.prompts import PromptLibrary
from ivr.session import IvrContext

log = logging.getLogger(__name__)


@dataclass
class Ivr:
    app: IvrApp
    server: AgiServer
    prompts: PromptLibrary

    @classmethod
    async def build(cls, settings: Settings, tickets: TicketStore) -> Ivr:
        prompts = PromptLibrary(settings.ivr)
        report = await asyncio.to_thread(prompts.build)
        for problem in report.rejected:
            log.warning("recorded prompt ignored: %s", problem)

        async def lookup(number: str) -> str | None:
            return await asyncio.to_thread(tickets.status, number)

        async def flag(caller: str) -> str | None:
            overdue = await asyncio.to_thread(tickets.has_overdue, caller)
            return "overdue_ticket" if overdue else None

        ctx = IvrContext(
            settings=settings.ivr,
            prompts=prompts,
            lookup=lookup,
            flag=flag,
            flagged_priority=settings.flagged_priority,
        )
        app = IvrApp(ctx)
        server = AgiServer(
            settings.listen.agi_host,
            settings.listen.agi_port,
            app.handle,
            header_timeout=settings.ivr.header_timeout,
            command_timeout=settings.ivr.command_timeout,
            max_sessions=settings.ivr.max_sessions,
        )
        return cls(app, server, prompts)
