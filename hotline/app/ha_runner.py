"""``hotline run`` with ``ha.enabled``: standby until this instance holds the lock, then active.

A standby has the service built (database migrated, prompts made) but holds no PBX connection,
serves no IVR and runs no scheduler: it answers ``/healthz`` (role standby) and ``/readyz``
(503) on the API port and asks for the lock every ``ha.retry_seconds``. Taking over, it stops
that small server, starts the whole service, which logs in to each PBX, takes over the calls the
dead instance had stored in progress and re-reads live state from Asterisk (``CallFeed.resync``,
``AgentDesk.reconcile``). While active it confirms the lock every ``ha.check_seconds``; if it
cannot, it stops the service and ``run`` raises ``LeadershipLost`` (the process exits with status 4,
and its supervisor starts it again as a standby).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hotline.ha.leadership import Leadership, LeadershipLost
from hotline.web.health import standby_app
from hotline.web.server import WebServer

if TYPE_CHECKING:
    from hotline.app.service import Service
    from hotline.app.settings import Secrets, Settings

log = logging.getLogger(__name__)


class ActiveStandby:
    def __init__(self, settings: Settings, leadership: Leadership) -> None:
        self.settings = settings
        self.leadership = leadership
        self.role = "standby"

    def health(self) -> dict[str, str]:
        return {"role": self.role, "instance": self.leadership.instance}

    async def run(self, secrets: Secrets) -> None:
        from hotline.app.service import Service

        service = await Service.build(self.settings, secrets, health=self.health)
        try:
            await self._standby()
        except BaseException:
            service.engine.dispose()
            raise
        self.role = "active"
        await self._active(service)

    async def _standby(self) -> None:
        listen = self.settings.listen
        server = WebServer(standby_app(self.health), listen.api_host, listen.api_port)
        serving = asyncio.create_task(server.run(), name="standby-web")
        try:
            await self.leadership.wait_until_leader()
        finally:
            server.stop()  # frees the API port for the whole service
            await serving

    async def _active(self, service: Service) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(service.run(), name="service")
                tg.create_task(self.leadership.hold(), name="leadership")
        except ExceptionGroup as group:
            # The first failure is the story (the other task was cancelled because of it).
            exc = group.exceptions[0]
            if isinstance(exc, LeadershipLost):
                self.role = "stopped"
                log.error("leadership lost (%s): stopping so that a standby can take over", exc)
            raise exc from None


async def run_active_standby(settings: Settings, secrets: Secrets) -> None:
    leadership = Leadership(settings.database.url, settings.ha)
    try:
        await ActiveStandby(settings, leadership).run(secrets)
    finally:
        await asyncio.to_thread(leadership.close)


__all__ = ["ActiveStandby", "LeadershipLost", "run_active_standby"]
