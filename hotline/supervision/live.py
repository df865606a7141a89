"""The supervisors' live view: queues, waiting callers and agent states, pushed on change.

Fed by the same AMI events as the call tracker (through the ``QueueBoard``), enriched with what
the tracker knows of each waiting call (language, request kind) and the agents' sessions from
the store. Subscribers (WebSocket clients) get a fresh snapshot shortly after every change and
every few seconds regardless, so waits keep counting on the wallboard.

With surveys on, the snapshot also carries today's citizen satisfaction and the survey work in
hand (``surveys``) and the latest supervisor alerts (``alerts``); both keys are absent when the
view is built without them, so the wallboard shows those panels only when there is something.

Several PBXes are merged: ``pbxes`` gives each one's connection status, calls in progress,
waiting callers, agents by state and today's figures; ``queues`` has one row per queue name
with the totals over the PBXes that have it and a ``by_pbx`` breakdown (each waiting caller
names its PBX); ``agents`` and ``calls`` (the calls in progress) carry their PBX; ``today`` is
the total.

The snapshot is a typed model (``hotline/supervision/schemas.py``). Each agent's own page
also follows that agent's state (``watch_agent``): a row is pushed when it changes, and a
call's end is not shown as "available" for the moment before its wrap-up (or auto-pause) is
recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from hotline.agents.desk import NO_ANSWER, WRAP_UP
from hotline.agents.store import Agent, AgentStore
from hotline.calls.store import CallStore, CallSummary
from hotline.core.alerts import SupervisorAlerts
from hotline.supervision.config import LiveConfig
from hotline.supervision.masking import for_wall
from hotline.supervision.schemas import LiveAgent, LiveSnapshot
from hotline.surveys import satisfaction
from hotline.surveys.store import SurveyStore
from telephony import dialplan
from telephony.ami.events import AmiEvent
from telephony.queue_control import interface
from telephony.queue_state import DeviceStatus, Member, QueueBoard
from telephony.settings import PbxSettings
from telephony.tracker import CallRecord, CallTracker

log = logging.getLogger(__name__)

Snapshot = LiveSnapshot
_BUSY = {DeviceStatus.INUSE, DeviceStatus.BUSY, DeviceStatus.RINGINUSE, DeviceStatus.ONHOLD}
ALERTS_SHOWN = 10  # the wallboard's alert list: the newest few, not a log
# A call that ends leaves its agent "available" until the wrap-up (or the auto-pause after a
# ring-out) is recorded, a moment later: an agent's page waits this long before showing it.
SETTLE = 1.0
_IN_CALL = ("ringing", "on_call")
_EVENTS = {
    "QueueCallerJoin",
    "QueueCallerLeave",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberStatus",
    "Hangup",
}


class LivePbx(Protocol):
    """What the view reads of one PBX (``hotline.pbx.link.PbxLink`` in the service)."""

    settings: PbxSettings
    board: QueueBoard
    tracker: CallTracker

    @property
    def name(self) -> str: ...

    def status(self) -> dict[str, Any]: ...


@dataclass
class _OnePbx:
    """The primary PBX alone, when the view is built without links (connection unknown)."""

    settings: PbxSettings
    board: QueueBoard
    tracker: CallTracker

    @property
    def name(self) -> str:
        return self.settings.name

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.settings.mode,
            "connected": None,
            "connections": 0,
            "down_for": None,
        }


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
    config: LiveConfig
    board: QueueBoard  # the primary PBX's
    agents: AgentStore
    tracker: CallTracker  # the primary PBX's
    calls: CallStore
    refresh: float = 2.0
    surveys: SurveyStore | None = field(default=None, kw_only=True)
    alerts: SupervisorAlerts | None = field(default=None, kw_only=True)
    # Every PBX, the primary first (default: the primary alone, from ``board`` and ``tracker``).
    links: Sequence[LivePbx] = field(default=(), kw_only=True)
    # What "today" is (the day's figures, today's satisfaction); tests inject a frozen one.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), kw_only=True)
    # Seconds for the settling of an agent's state; tests step it by hand.
    monotonic: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    # Each subscriber's queue → whether it was given full numbers (``reveal``).
    _subscribers: dict[asyncio.Queue[Snapshot], bool] = field(default_factory=dict)
    _watches: dict[asyncio.Queue[LiveAgent], _Watch] = field(default_factory=dict)
    _dirty: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.links:
            self.links = [_OnePbx(self.config.pbxes[0], self.board, self.tracker)]
        self._by_name = {link.name: link for link in self.links}

    def on_event(self, ev: AmiEvent, pbx: str | None = None) -> None:
        """An event of PBX ``pbx`` (default the primary)."""
        board = self._by_name[pbx].board if pbx is not None else self.board
        if board.feed(ev) or ev.name in _EVENTS:
            self._dirty.set()

    def changed(self) -> None:
        self._dirty.set()

    async def snapshot(self, *, reveal: bool = False) -> Snapshot:
        """The live view now: callers' numbers masked for a wall display, unless ``reveal``
        (a supervisor's own screen; the caller of this audits it)."""
        snap = await self._snapshot()
        return snap if reveal else for_wall(snap)

    async def _snapshot(self) -> Snapshot:
        now = time.time()
        agents = await asyncio.to_thread(self.agents.all)
        s = self.config
        # "Today" is the hotline's local day (``timezone:``), as in the metrics and reports.
        midnight = self.clock().astimezone(s.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        today, today_by_pbx = await asyncio.to_thread(
            self.calls.summaries, midnight, s.short_abandon_seconds, s.service_level_seconds
        )
        pbx_rows = []
        queue_rows: dict[str, dict[str, Any]] = {}
        calls: list[dict[str, Any]] = []
        for link in self.links:
            active = link.tracker.active
            calls += [_call_row(link.name, r, now) for r in active]
            records = {r.call_id: r for r in active}
            waiting = 0
            for q in link.settings.queues:
                row = self._queue_row(link, q.name, records, now)
                waiting += len(row["waiting"])
                total = queue_rows.setdefault(
                    q.name,
                    {
                        "name": q.name,
                        "language": q.language,
                        "skill": q.skill,
                        "waiting": [],
                        "longest_wait": 0.0,
                        "members": 0,
                        "available": 0,
                        "by_pbx": {},
                    },
                )
                total["waiting"] += row["waiting"]
                total["longest_wait"] = max(total["longest_wait"], row["longest_wait"])
                total["members"] += row["members"]
                total["available"] += row["available"]
                total["by_pbx"][link.name] = {
                    k: row[k] if k != "waiting" else len(row[k])
                    for k in ("waiting", "longest_wait", "members", "available")
                }
            pbx_rows.append(
                {
                    **link.status(),
                    "calls_in_progress": len(active),
                    "waiting": waiting,
                    "agents": {},
                    "today": _today(today_by_pbx.get(link.name), s),
                }
            )
        # Callers of every PBX in the order they will be served: by position (a priority caller
        # is ahead of those who waited longer), then the longest waiting first across PBXes.
        for row in queue_rows.values():
            row["waiting"].sort(key=lambda w: (w["position"], w["joined_at"]))
        agent_rows = self._agent_rows(agents)
        for pbx_row in pbx_rows:
            states = Counter(a.state for a in agent_rows if a.pbx == pbx_row["name"])
            pbx_row["agents"] = dict(states)
        snap: dict[str, Any] = {
            "now": now,
            "pbxes": pbx_rows,
            "queues": list(queue_rows.values()),
            "agents": agent_rows,
            "calls": sorted(calls, key=lambda c: c["started_at"]),
            "today": _today(today, s),
        }
        await self._add_surveys(snap)
        return LiveSnapshot.model_validate(snap)

    def _queue_row(
        self, link: LivePbx, name: str, records: dict[str, CallRecord], now: float
    ) -> dict[str, Any]:
        callers = link.board.callers(name)
        waiting: list[dict[str, Any]] = []
        for w in callers:
            rec = records.get(w.call_id)
            waiting.append(
                {
                    "pbx": link.name,
                    "call_id": w.call_id,
                    "position": w.position,
                    "caller_number": w.caller_number,
                    "joined_at": w.joined_at,
                    "waited": round(now - w.joined_at, 1),
                    "language": rec.language if rec else None,
                    "request_kind": rec.request_kind if rec else None,
                }
            )
        members = link.board.members.get(name, {}).values()
        return {
            "waiting": waiting,
            "longest_wait": round(max((now - w.joined_at for w in callers), default=0.0), 1),
            "members": len(members),
            "available": sum(
                1 for m in members if not m.paused and m.status == DeviceStatus.NOT_INUSE
            ),
        }

    def _agent_rows(self, agents: list[Agent]) -> list[LiveAgent]:
        pbx_of = {a.extension: p.name for p in self.config.pbxes for a in p.agents}
        rows = []
        for a in agents:
            ext = a.logged_in_extension
            pbx = pbx_of.get(ext or a.extension or "")
            link = self._by_name.get(pbx or "")
            mine: list[Member] = []
            ringing: set[str] = set()
            if ext is not None and link is not None:
                ringing = set(link.board.ringing)
                mine = [m for m in link.board.member_list() if m.interface == interface(ext)]
            state = agent_state(a, mine, ringing)
            rows.append(
                LiveAgent(
                    agent_id=a.agent_id,
                    name=a.name,
                    extension=a.logged_in_extension,
                    pbx=pbx,
                    state=state,
                    reason=a.pause_reason if state in ("paused", "wrap_up") else None,
                    no_answer=a.pause_reason == NO_ANSWER,
                    since=a.state_since.timestamp() if a.state_since else None,
                    queues=sorted(m.queue for m in mine),
                )
            )
        return rows

    async def _add_surveys(self, snap: dict[str, Any]) -> None:
        if self.surveys is not None:
            snap["surveys"] = await asyncio.to_thread(
                satisfaction.today, self.surveys, self.config.tz, self.clock()
            )
        if self.alerts is not None:
            snap["alerts"] = [a.to_dict() for a in self.alerts.recent(ALERTS_SHOWN)]

    def subscribe(self, *, reveal: bool = False) -> asyncio.Queue[Snapshot]:
        """Snapshots as they change: masked for a wall display, unless ``reveal``."""
        queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=4)
        self._subscribers[queue] = reveal
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Snapshot]) -> None:
        self._subscribers.pop(queue, None)

    def watch_agent(self, agent_id: str) -> asyncio.Queue[LiveAgent]:
        """One agent's page: that agent's row now (shortly), then each time it changes."""
        queue: asyncio.Queue[LiveAgent] = asyncio.Queue(maxsize=4)
        self._watches[queue] = _Watch(agent_id)
        self._dirty.set()
        return queue

    def unwatch_agent(self, queue: asyncio.Queue[LiveAgent]) -> None:
        self._watches.pop(queue, None)

    async def run(self) -> None:
        """Push a snapshot to subscribers after changes (batched) and every ``refresh`` s, and
        their row to the pages watching an agent when it changed."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.refresh)
            await asyncio.sleep(0.05)  # let a burst of events land in one snapshot
            self._dirty.clear()
            if not self._subscribers and not self._watches:
                continue
            if self._subscribers:
                snap = await self._snapshot()
                wall = for_wall(snap)  # built once for every wall display
                for queue, reveal in list(self._subscribers.items()):
                    _put_newest(queue, snap if reveal else wall)
                rows = snap.agents
            else:
                rows = self._agent_rows(await asyncio.to_thread(self.agents.all))
            self._push_agents(rows)

    def _push_agents(self, rows: list[LiveAgent]) -> None:
        by_id = {row.agent_id: row for row in rows}
        now = self.monotonic()
        for queue, watch in list(self._watches.items()):
            row = by_id.get(watch.agent_id)
            if row is None or row == watch.last:
                watch.held = None
                continue
            last = watch.last
            if last is not None and last.state in _IN_CALL and row.state == "available":
                # Ringing or talking, then free: show it once it stays so for SETTLE seconds
                # (by then a wrap-up or an auto-pause has been recorded, if one follows).
                if watch.held is None:
                    watch.held = now
                    asyncio.get_running_loop().call_later(SETTLE, self._dirty.set)
                    continue
                if now - watch.held < SETTLE:
                    continue
            watch.held = None
            watch.last = row
            _put_newest(queue, row)


@dataclass
class _Watch:
    agent_id: str
    last: LiveAgent | None = None  # the row last sent
    held: float | None = None  # since when an "available" after a call waits to be sent


def _put_newest(queue: asyncio.Queue[Any], item: object) -> None:
    if queue.full():  # a slow client gets the newest state, not a backlog
        queue.get_nowait()
    queue.put_nowait(item)


def _today(summary: CallSummary | None, s: LiveConfig) -> dict[str, Any]:
    return {
        "offered": summary.offered if summary else 0,
        "answered": summary.answered if summary else 0,
        "abandoned": summary.abandoned if summary else 0,
        "short_abandons": summary.short_abandons if summary else 0,
        "service_level": summary.service_level if summary else None,
        "service_level_seconds": s.service_level_seconds,
        "asa": summary.asa if summary else None,
    }


def _call_row(pbx: str, rec: CallRecord, now: float) -> dict[str, Any]:
    """A call in progress, as the supervisors see it."""
    if rec.answered_at is not None:
        state = "connected"
    elif rec.queue_joined_at is not None:
        state = "queued"
    elif rec.ivr_path or rec.variables.get(dialplan.MENU):
        state = "ivr"
    else:
        state = "started"
    return {
        "call_id": rec.call_id,
        "pbx": pbx,
        "caller_number": rec.caller_number,
        "dialled_number": rec.dialled_number,
        "state": state,
        "queue": rec.queue,
        "agent": rec.agent,
        "language": rec.language,
        "request_kind": rec.request_kind,
        "started_at": rec.started_at,
        "duration": round(now - rec.started_at, 1),
    }
