"""The IVR application behind the FastAGI server: routes ``ivr/<menu>`` to a menu walk."""

from __future__ import annotations

import logging

from ivr.agi.server import AgiChannel
from ivr.errors import AgiProtocolError
from ivr.session import IvrContext, MenuWalk, WalkState

log = logging.getLogger(__name__)


class IvrApp:
    """One instance per service; ``active`` shows every caller now in a menu."""

    def __init__(self, ctx: IvrContext) -> None:
        self._ctx = ctx
        self.active: dict[str, WalkState] = {}

    async def handle(self, channel: AgiChannel) -> None:
        script = channel.request.script
        prefix, _, name = script.partition("/")
        menu = self._ctx.settings.menus.get(name) if prefix == "ivr" else None
        if menu is None:
            # An unknown script: the dialplan sees the IVR unfinished and falls back.
            raise AgiProtocolError(f"no such IVR script {script!r}")
        walk = MenuWalk(channel, self._ctx, name, menu)
        # Keyed by PBX (the dialplan's AGI argument) too: two PBXes may use the same uniqueid.
        key = f"{channel.request.headers.get('agi_arg_1', '')}/{walk.state.uniqueid}"
        self.active[key] = walk.state
        try:
            await walk.run()
        finally:
            del self.active[key]

    def find(self, caller_number: str) -> WalkState | None:
        """The walk of a caller now in a menu (the newest, if several)."""
        found = [s for s in self.active.values() if s.caller_number == caller_number]
        return max(found, key=lambda s: s.started_at) if found else None
