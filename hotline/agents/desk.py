"""Agent state control: log in, log out, pause, wrap up, and keep Asterisk in step.

The store holds who is logged in where and whether they are paused; Asterisk's queue membership
is made to match it: at each change, and wholesale (``reconcile``) after every AMI (re)connect,
so a restart or an outage never leaves ghost members or lost agents. Calls keep flowing while the
service is down: membership is never torn down at shutdown.

Several PBXes: an agent belongs, while logged in, to the PBX of its extension (extensions are
unique across PBXes), and every action goes to that PBX's queues; each PBX is reconciled after
its own (re)connect, so one PBX down never holds up the others.

The desk keeps the agents in memory (``load``: at start, and again at each reconcile, which
picks up what other processes changed, e.g. ``hotline agents import`` while the service runs)
and is told of every change made through the service's store (``AgentStore.subscribe``: a
profile put through the API or an import, a login, logout or pause), so who is logged in at an
extension (``agent_on``, asked at every connected call) is answered without the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline.agents.store import Agent, AgentStore, UnknownAgent
from hotline.core.errors import Conflict, NotFound
from hotline.core.logs import bind
from hotline.pbx.link import PbxLink
from telephony.ami.events import AmiEvent
from telephony.queue_control import QueueControl, interface
from telephony.queue_state import QueueBoard
from telephony.settings import PbxSettings
from telephony.tracker import CallTracker

log = logging.getLogger(__name__)

MAX_LEVEL = 5
WRAP_UP = "wrap-up"
NO_ANSWER = "no answer"  # Asterisk's autopause reports "Auto-Pause"


def penalty(level: int) -> int:
    """Skill level 1..5 → queue penalty 4..0: the best-skilled agents are offered calls first."""
    return MAX_LEVEL - max(1, min(MAX_LEVEL, level))


@dataclass
class AgentDesk:
    # Every PBX's settings, the primary first: its agent endpoints, queues and wrap-up times.
    pbxes: Sequence[PbxSettings]
    store: AgentStore
    control: QueueControl  # the primary PBX's
    board: QueueBoard  # the primary PBX's
    # Every PBX by name (default: the primary alone, with ``control`` and ``board``).
    links: Mapping[str, PbxLink] = field(default_factory=dict, kw_only=True)
    _wrapups: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Set once every PBX has been reconciled; ``reconciled_pbxes``: which ones have.
    reconciled: asyncio.Event = field(default_factory=asyncio.Event)
    reconciled_pbxes: set[str] = field(default_factory=set)
    # Every agent by id, as of the last change (replaced, never changed in place: the store
    # reports changes from the threads that make them).
    _agents: dict[str, Agent] = field(default_factory=dict, init=False, repr=False)
    _subscribed: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._primary = self.pbxes[0]
        self._by_name = {pbx.name: pbx for pbx in self.pbxes}
        if not self.links:
            primary = self._primary
            self.links = {
                primary.name: PbxLink(primary, CallTracker(primary.name), self.board, self.control)
            }
        self._pbx_of = {a.extension: pbx.name for pbx in self.pbxes for a in pbx.agents}

    # -- the agents, in memory ---------------------------------------------------------------
    async def load(self) -> None:
        """(Re)read every agent from the store; from the first load on, the store reports
        each change made through it."""
        if not self._subscribed:
            self.store.subscribe(self._changed)
            self._subscribed = True
        await asyncio.to_thread(self.store.snapshot, self._loaded)

    def _loaded(self, agents: list[Agent]) -> None:
        self._agents = {a.agent_id: a for a in agents}

    def _changed(self, agent: Agent) -> None:
        """The store's report of a change (any thread; reports come one at a time)."""
        self._agents = {**self._agents, agent.agent_id: agent}

    @property
    def agents(self) -> list[Agent]:
        """Every agent as the desk knows it (by id)."""
        return sorted(self._agents.values(), key=lambda a: a.agent_id)

    # -- what Asterisk should have -----------------------------------------------------------
    def pbx_of(self, extension: str | None) -> str | None:
        """The name of the PBX whose endpoint ``extension`` is (None: no agent endpoint)."""
        return self._pbx_of.get(extension) if extension is not None else None

    def _pbx_settings(self, extension: str | None) -> PbxSettings:
        name = self.pbx_of(extension)
        return self._by_name[name] if name is not None else self._primary

    def _link(self, extension: str) -> PbxLink:
        return self.links[self._pbx_settings(extension).name]

    def queues_for(self, agent: Agent, extension: str | None = None) -> dict[str, int]:
        """Queue → penalty for every queue whose required skill the agent has, on the PBX of
        ``extension`` (default: where the agent is logged in, else its usual seat's)."""
        ext = extension or agent.logged_in_extension or agent.extension
        return {
            q.name: penalty(agent.skills[q.skill])
            for q in self._pbx_settings(ext).queues
            if q.skill is not None and q.skill in agent.skills
        }

    def _extensions(self) -> set[str]:
        return set(self._pbx_of)

    # -- commands ----------------------------------------------------------------------------
    async def login(self, agent_id: str, extension: str | None = None) -> Agent:
        agent = await self._get(agent_id)
        ext = extension or agent.extension
        if ext is None or ext not in self._extensions():
            raise NotFound("extension.unknown", f"no PJSIP endpoint {ext!r} in pbx.agents")
        holder = next(
            (
                a
                for a in self._agents.values()
                if a.logged_in_extension == ext and a.agent_id != agent_id
            ),
            None,
        )
        if holder is not None:
            raise Conflict("extension.in_use", f"extension {ext} is in use by {holder.agent_id}")
        if agent.logged_in and agent.logged_in_extension != ext:
            await self.logout(agent_id)
        link = self._link(ext)
        for queue, pen in self.queues_for(agent, ext).items():
            await link.control.add(queue, ext, agent.name or agent_id, pen, paused=False)
        return await self._record(agent_id, "login", ext, paused=False, reason=None, pbx=link.name)

    async def logout(self, agent_id: str) -> Agent:
        agent = await self._get(agent_id)
        if not agent.logged_in:
            raise Conflict("agent.not_logged_in", f"{agent_id} is not logged in")
        ext = agent.logged_in_extension
        assert ext is not None
        self._cancel_wrapup(agent_id)
        link = self._link(ext)
        for queue in self.queues_for(agent, ext):
            await link.control.remove(queue, ext)
        return await self._record(
            agent_id, "logout", None, paused=False, reason=None, pbx=link.name
        )

    async def pause(self, agent_id: str, reason: str, *, call: str | None = None) -> Agent:
        """``call``: for a wrap-up, the call_id of the call it follows (its AHT)."""
        agent = await self._logged_in(agent_id)
        self._cancel_wrapup(agent_id)
        ext = agent.logged_in_extension
        assert ext is not None
        await self._link(ext).control.pause(ext, True, reason)
        return await self._record(agent_id, "pause", ext, paused=True, reason=reason, call=call)

    async def unpause(self, agent_id: str) -> Agent:
        agent = await self._logged_in(agent_id)
        self._cancel_wrapup(agent_id)
        ext = agent.logged_in_extension
        assert ext is not None
        await self._link(ext).control.pause(ext, False)
        return await self._record(agent_id, "unpause", ext, paused=False, reason=None)

    # -- Asterisk → us -----------------------------------------------------------------------
    def on_event(self, ev: AmiEvent, pbx: str | None = None) -> None:
        """An event of PBX ``pbx`` (default the primary)."""
        pbx = pbx or self._primary.name
        if ev.name == "AgentComplete":
            call_id = ev.get("Linkedid") or None
            self._spawn(self._after_call(ev.get("Interface"), ev.get("Queue"), call_id, pbx))
        elif ev.name == "QueueMemberPause" and ev.get("Paused") == "1":
            if ev.get("PausedReason") == "Auto-Pause":
                self._spawn(self._auto_paused(ev.get("Interface"), pbx))

    async def _after_call(self, iface: str, queue: str, call_id: str | None, pbx: str) -> None:
        agent = self.agent_on(iface, pbx)
        if agent is None or agent.paused:
            return
        bind(agent=agent.logged_in_extension, agent_id=agent.agent_id)  # this reaction's task
        queues = self._by_name[pbx].queues
        seconds = next((q.wrapup for q in queues if q.name == queue), 0)
        if seconds <= 0:
            return
        await self.pause(agent.agent_id, WRAP_UP, call=call_id)
        self._schedule_wrapup_end(agent.agent_id, seconds)

    async def _auto_paused(self, iface: str, pbx: str) -> None:
        agent = self.agent_on(iface, pbx)
        if agent is None or (agent.paused and agent.pause_reason == NO_ANSWER):
            return
        bind(agent=agent.logged_in_extension, agent_id=agent.agent_id)  # this reaction's task
        log.info("agent %s auto-paused: let a call ring out", agent.agent_id)
        await self._record(
            agent.agent_id, "pause", agent.logged_in_extension, paused=True, reason=NO_ANSWER
        )  # the PBX: from the extension

    def _schedule_wrapup_end(self, agent_id: str, seconds: float) -> None:
        def end() -> None:
            self._wrapups.pop(agent_id, None)
            self._spawn(self._end_wrapup(agent_id))

        self._cancel_wrapup(agent_id)
        self._wrapups[agent_id] = asyncio.get_running_loop().call_later(seconds, end)

    async def _end_wrapup(self, agent_id: str) -> None:
        agent = await self._get(agent_id)
        if agent.paused and agent.pause_reason == WRAP_UP:
            await self.unpause(agent_id)

    def _cancel_wrapup(self, agent_id: str) -> None:
        timer = self._wrapups.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    # -- reconcile ---------------------------------------------------------------------------
    async def reconcile(self, pbx: str | None = None) -> None:
        """Make PBX ``pbx``'s (default the primary's) dynamic membership match the store; then
        read it back. Agents logged in at other PBXes' extensions are no members here. The
        agents are read again first (other processes may have changed them meanwhile)."""
        link = self.links[pbx or self._primary.name]
        control = link.control
        await self.load()
        mine = [a for a in self.agents if self.pbx_of(a.logged_in_extension) == link.name]
        wanted: dict[tuple[str, str], tuple[Agent, int]] = {}
        for agent in mine:
            if agent.logged_in_extension is not None:
                for queue, pen in self.queues_for(agent).items():
                    wanted[(queue, interface(agent.logged_in_extension))] = (agent, pen)
        actual = await control.status()
        added = removed = fixed = 0
        for m in actual.member_list():
            if m.membership != "dynamic":
                continue  # static seats belong to the rendered config
            want = wanted.get((m.queue, m.interface))
            ext = m.interface.partition("/")[2]
            if want is None:
                await control.remove(m.queue, ext)
                removed += 1
            elif m.paused != want[0].paused:
                await control.pause(ext, want[0].paused, want[0].pause_reason or "")
                fixed += 1
        present = {(m.queue, m.interface) for m in actual.member_list()}
        for (queue, iface), (agent, pen) in wanted.items():
            if (queue, iface) not in present:
                ext = iface.partition("/")[2]
                await control.add(
                    queue,
                    ext,
                    agent.name or agent.agent_id,
                    pen,
                    paused=agent.paused,
                    reason=agent.pause_reason or "",
                )
                added += 1
        # Wrap-ups that were running when the service stopped end on time (or now).
        now = datetime.now(UTC)
        longest = max((q.wrapup for q in link.settings.queues), default=0)
        for agent in mine:
            if agent.paused and agent.pause_reason == WRAP_UP and agent.state_since:
                left = longest - (now - agent.state_since).total_seconds()
                self._schedule_wrapup_end(agent.agent_id, max(0.0, left))
        link.board.replace(await control.status())
        log.info(
            "%s: queue membership reconciled: %d added, %d removed (ghosts), %d pause fixed",
            link.name,
            added,
            removed,
            fixed,
        )
        self.reconciled_pbxes.add(link.name)
        if self.reconciled_pbxes >= set(self.links):
            self.reconciled.set()

    # -- helpers -----------------------------------------------------------------------------
    async def get(self, agent_id: str) -> Agent:
        return await self._get(agent_id)

    async def _get(self, agent_id: str) -> Agent:
        try:
            return await asyncio.to_thread(self.store.get, agent_id)
        except UnknownAgent:
            raise NotFound("agent.unknown", f"no agent {agent_id!r}") from None

    async def _logged_in(self, agent_id: str) -> Agent:
        agent = await self._get(agent_id)
        if not agent.logged_in:
            raise Conflict("agent.not_logged_in", f"{agent_id} is not logged in")
        return agent

    def agent_at(self, extension: str, pbx: str | None = None) -> Agent | None:
        """The agent logged in at ``extension`` (of PBX ``pbx`` if given). From memory."""
        return self.agent_on(interface(extension), pbx)

    def agent_on(self, iface: str, pbx: str | None = None) -> Agent | None:
        """The agent logged in at ``iface`` ("PJSIP/2001"), if any (of PBX ``pbx`` if given).
        From memory: no database read."""
        return next(
            (
                a
                for a in self._agents.values()
                if a.logged_in_extension
                and interface(a.logged_in_extension) == iface
                and (pbx is None or self.pbx_of(a.logged_in_extension) == pbx)
            ),
            None,
        )

    async def _record(
        self,
        agent_id: str,
        event: str,
        ext: str | None,
        *,
        paused: bool,
        reason: str | None,
        call: str | None = None,
        pbx: str | None = None,
    ) -> Agent:
        """``pbx``: the PBX of the change (default: ``ext``'s)."""
        return await asyncio.to_thread(
            self.store.set_session,
            agent_id,
            event=event,
            extension=ext,
            paused=paused,
            reason=reason,
            call=call,
            pbx=pbx or self.pbx_of(ext),
        )

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                # Reactions to events (wrap-up, auto-pause) must not die silently.
                log.exception("agent state reaction failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for timer in self._wrapups.values():
            timer.cancel()
        self._wrapups.clear()
        for task in self._tasks:
            task.cancel()
