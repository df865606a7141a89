"""One caller's walk through a menu over an AGI channel.

The walk writes what it learns onto the channel as it goes (``HOTLINE_IVR_PATH`` after every
choice, language, request kind and category when chosen), so a caller who hangs up mid-menu
still leaves the path so far on the call record. The route is written last, then
``HOTLINE_IVR=done``: the dialplan treats anything else as "the IVR did not finish" and falls
back to the default queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ivr.agi.server import AgiChannel
from ivr.menu import DIGITS, IvrSettings, LookupTicket, Menu, Node, PromptRef, Target
from ivr.prompts import PromptLibrary
from telephony import dialplan

log = logging.getLogger(__name__)

# The ticket's status for a ticket number keyed by the caller, or None when there is no such
# ticket. Provided by the application (it reads the store); the IVR does not know the store.
TicketStatusLookup = Callable[[str], Awaitable[str | None]]
# Why a caller deserves priority (e.g. "overdue_ticket"), or None. From the application.
CallerFlag = Callable[[str], Awaitable[str | None]]


@dataclass
class WalkState:
    """Where a caller is in the menu; read by monitors and tests."""

    uniqueid: str
    caller_number: str
    menu: str
    language: str
    node: str = ""
    listening: bool = False  # a prompt of ``node`` is playing or a key is awaited
    path: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    kind: str | None = None  # the request kind, once chosen
    category: str | None = None  # the problem's category, once chosen (a category level)
    action: str | None = None  # queue | transfer | hangup, once decided


@dataclass(frozen=True)
class IvrContext:
    """What every walk needs, built once by the application."""

    settings: IvrSettings
    prompts: PromptLibrary
    lookup: TicketStatusLookup
    flag: CallerFlag
    flagged_priority: int = 0  # queue priority for flagged callers (0: none)


class MenuWalk:
    def __init__(self, channel: AgiChannel, ctx: IvrContext, menu_name: str, menu: Menu) -> None:
        self._ch = channel
        self._ctx = ctx
        self._menu = menu
        req = channel.request
        lang = req.headers.get("agi_language", "")
        if lang not in ctx.settings.languages:
            lang = ctx.settings.default_language
        self.state = WalkState(req.uniqueid, req.caller_number, menu_name, lang)

    async def run(self) -> None:
        node_name = self._menu.entry
        while True:
            target = await self._node(node_name, self._menu.nodes[node_name])
            if target.language and target.language != self.state.language:
                await self._set_language(target.language)
            if target.kind:
                self.state.kind = target.kind
                await self._ch.set_variable(dialplan.inherited(dialplan.KIND), target.kind)
            if target.category:
                self.state.category = target.category
                await self._ch.set_variable(dialplan.inherited(dialplan.CATEGORY), target.category)
            if target.lookup_ticket:
                await self._lookup(target.lookup_ticket)
            if target.ends_menu:
                await self._finish(target)
                return
            node_name = target.next_nodes()[0]

    async def _node(self, name: str, node: Node) -> Target:
        st = self.state
        st.node = name
        st.listening = True
        # A key pressed during the intro (callers who know the menu) answers the node.
        key = await self._play(node.intro, escape=DIGITS)
        attempt = 0
        while True:
            st.listening = True
            if key is None:
                key = await self._play(node.prompt, escape=DIGITS)
            if key is None:
                key = await self._ch.wait_for_digit(node.timeout)
            st.listening = False
            if key is not None and key in node.options:
                await self._step(f"{name}:{key}")
                return node.options[key]
            if key is None:
                await self._step(f"{name}:timeout")
                extra = node.no_input
            else:
                await self._step(f"{name}:invalid-{key}")
                extra = node.invalid
            attempt += 1
            if attempt > node.retries:
                return node.on_exhausted
            await self._play(extra)
            key = None

    async def _play(self, refs: list[PromptRef], escape: str = "") -> str | None:
        for ref in refs:
            path = self._ctx.prompts.path(ref.prompt, ref.language or self.state.language)
            key = await self._ch.stream_file(path, escape)
            if key is not None:
                return key
        return None

    async def _step(self, step: str) -> None:
        self.state.path.append(step)
        await self._ch.set_variable(dialplan.IVR_PATH, "/".join(self.state.path))

    async def _set_language(self, lang: str) -> None:
        self.state.language = lang
        # CHANNEL(language) makes Asterisk's own announcements (queue position, hold time) use it;
        # the inherited copy follows the call to the agent's leg and on to the survey.
        await self._ch.set_variable("CHANNEL(language)", lang)
        await self._ch.set_variable(dialplan.inherited(dialplan.LANGUAGE), lang)

    async def _lookup(self, spec: LookupTicket) -> None:
        ask = self._ctx.prompts.path(spec.ask, self.state.language)
        self.state.node, self.state.listening = "ticket", True
        digits, _ = await self._ch.get_data(ask, spec.timeout, spec.max_digits)
        self.state.listening = False
        digits = "".join(c for c in digits if c.isdigit())
        status = await self._ctx.lookup(digits) if digits else None
        await self._step(f"ticket-{digits or 'none'}-{status or 'not_found'}")
        if status is None:
            await self._play([PromptRef(prompt=spec.not_found)])
            return
        await self._ch.set_variable(dialplan.TICKET, digits)
        refs = [PromptRef(prompt=spec.number_is)]
        refs += [PromptRef(prompt=f"{spec.digit_prefix}{d}") for d in digits]
        refs.append(PromptRef(prompt=spec.status_prefix + status))
        await self._play(refs)

    async def _finish(self, target: Target) -> None:
        ch = self._ch
        if target.queue:
            queue = self._ctx.settings.route(self.state.language, self.state.kind, target.queue)
            await ch.set_variable(dialplan.inherited(dialplan.QUEUE), queue)
            priority = target.priority
            flag = await self._ctx.flag(self.state.caller_number)
            if flag is not None and self._ctx.flagged_priority:
                priority = max(priority, self._ctx.flagged_priority)
                await ch.set_variable(dialplan.inherited(dialplan.FLAG), flag)
            await ch.set_variable(dialplan.inherited(dialplan.PRIORITY), str(priority))
            await ch.set_variable(dialplan.QUEUE_PRIO, str(priority))
            action = dialplan.ACTION_QUEUE
        elif target.transfer:
            await ch.set_variable(dialplan.TRANSFER, target.transfer)
            action = dialplan.ACTION_TRANSFER
        else:
            await self._play(target.hangup or [])
            action = dialplan.ACTION_HANGUP
        self.state.action = action
        await ch.set_variable(dialplan.ACTION, action)
        await ch.set_variable(dialplan.IVR, dialplan.IVR_DONE)
