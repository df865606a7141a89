"""The supervisors' live view: queues, waiting callers and agent states, pushed on change.

Fed by the same AMI events as the call tracker (through the ``QueueBoard``), enriched with what
the tracker knows of each waiting call (language, request kind) and the agents' sessions from
the store. Subscribers (WebSocket clients) get a fresh snapshot shortly after every change and
every few seconds regardless, so waits keep counting on the wallboard.

With surveys on, the snapshot also carries today's citizen satisfaction and the survey work in
hand (``surveys``) and the latest supervisor alerts (``alerts``); both keys are absent when the
view is built without them, so the wallboard shows those panels only when there is something.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotline import satisfaction
from hotline.agents import NO_ANSWER, WRAP_UP
from hotline.alerts import SupervisorAlerts
from hotline.settings import Settings
from hotline.store.agents import Agent, AgentStore
from hotline.store.calls import CallStore
from hotline.store.surveys import SurveyStore
from telephony.ami.events import AmiEvent
from telephony.calls import CallTracker
from telephony.queue_control import interface
from telephony.queue_state import DeviceStatus, Member, QueueBoard

log = logging.getLogger(__name__)

Snapshot = dict[str, Any]
_BUSY = {DeviceStatus.INUSE, DeviceStatus.BUSY, DeviceStatus.RINGINUSE, DeviceStatus.ONHOLD}
ALERTS_SHOWN = 10  # the wallboard's alert list: the newest few, not a log
_EVENTS = {"QueueCallerJoin", "QueueCallerLeave", "AgentCalled", "AgentConnect",
           "AgentComplete", "AgentRingNoAnswer", "QueueMemberAdded", "QueueMemberRemoved",
           "QueueMemberPause", "QueueMemberStatus", "Hangup"}  # fmt: skip


def agent_state(agent: Agent, members: list[Member], ringing: set[str]) -> str:
    if not agent.logged_in:
        return "logged_out"
    if agent.paused:
        return "wrap_up" if agent.pause_reason == WRAP_UP else "paused"
    if any(m.interface in ringing or m.status == DeviceStatus.RINGING for m in members):
        return "ringing"
    if any(m.in_call or m.status in _BUSY for m in members):
        return "on_call"
    return "available"


@dataclass
class LiveView:
    settings: Settings
    board: QueueBoard
    agents: AgentStore
    tracker: CallTracker
    calls: CallStore
    refresh: float = 2.0
    surveys: SurveyStore | None = field(default=None, kw_only=True)
    alerts: SupervisorAlerts | None = field(default=None, kw_only=True)
    _subscribers: set[asyncio.Queue[Snapshot]] = field(default_factory=set)
    _dirty: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, ev: AmiEvent) -> None:
        if self.board.feed(ev) or ev.name in _EVENTS:
            self._dirty.set()

    def changed(self) -> None:
        self._dirty.set()

    async def snapshot(self) -> Snapshot:
        now = time.time()
        agents = await asyncio.to_thread(self.agents.all)
        s = self.settings
        # "Today" is the hotline's local day (settings.timezone), as in the metrics and reports.
        midnight = datetime.now(s.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        today = await asyncio.to_thread(
            self.calls.summary, midnight, s.short_abandon_seconds, s.service_level_seconds
        )
        calls = {r.linkedid: r for r in self.tracker.active}
        queues = []
        for q in s.pbx.queues:
            waiting: list[dict[str, Any]] = []
            callers = self.board.callers(q.name)
            for w in callers:
                rec = calls.get(w.linkedid)
                waiting.append(
                    {
                        "position": w.position,
                        "caller_number": w.caller_number,
                        "joined_at": w.joined_at,
                        "waited": round(now - w.joined_at, 1),
                        "language": rec.language if rec else None,
                        "request_kind": rec.request_kind if rec else None,
                    }
                )
            members = self.board.members.get(q.name, {}).values()
            queues.append(
                {
                    "name": q.name,
                    "language": q.language,
                    "skill": q.skill,
                    "waiting": waiting,
                    "longest_wait": round(
                        max((now - w.joined_at for w in callers), default=0.0), 1
                    ),
                    "members": len(members),
                    "available": sum(
                        1 for m in members if not m.paused and m.status == DeviceStatus.NOT_INUSE
                    ),
                }
            )
        ringing = set(self.board.ringing)
        by_iface: dict[str, list[Member]] = {}
        for m in self.board.member_list():
            by_iface.setdefault(m.interface, []).append(m)
        agent_rows = []
        for a in agents:
            ext = a.logged_in_extension
            mine = by_iface.get(interface(ext), []) if ext is not None else []
            state = agent_state(a, mine, ringing)
            agent_rows.append(
                {
                    "agent_id": a.agent_id,
                    "name": a.name,
                    "extension": a.logged_in_extension,
                    "state": state,
                    "reason": a.pause_reason if state in ("paused", "wrap_up") else None,
                    "no_answer": a.pause_reason == NO_ANSWER,
                    "since": a.state_since.timestamp() if a.state_since else None,
                    "queues": sorted(m.queue for m in mine),
                }
            )
        snap: Snapshot = {
            "now": now,
            "queues": queues,
            "agents": agent_rows,
            "today": {
                "offered": today.offered,
                "answered": today.answered,
                "abandoned": today.abandoned,
                "short_abandons": today.short_abandons,
                "service_level": today.service_level,
                "service_level_seconds": s.service_level_seconds,
                "asa": today.asa,
            },
        }
        await self._add_surveys(snap)
        return snap

    async def _add_surveys(self, snap: Snapshot) -> None:
        if self.surveys is not None:
            snap["surveys"] = await asyncio.to_thread(
                satisfaction.today, self.surveys, self.settings.tz, datetime.now(UTC)
            )
        if self.alerts is not None:
            snap["alerts"] = [a.to_dict() for a in self.alerts.recent(ALERTS_SHOWN)]

    def subscribe(self) -> asyncio.Queue[Snapshot]:
        queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=4)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Snapshot]) -> None:
        self._subscribers.discard(queue)

    async def run(self) -> None:
        """Push a snapshot to subscribers after changes (batched) and every ``refresh`` s."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.refresh)
            await asyncio.sleep(0.05)  # let a burst of events land in one snapshot
            self._dirty.clear()
            if not self._subscribers:
                continue
            snap = await self.snapshot()
            for queue in list(self._subscribers):
                if queue.full():  # a slow client gets the newest state, not a backlog
                    queue.get_nowait()
                queue.put_nowait(snap)
