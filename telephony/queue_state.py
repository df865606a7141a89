"""Queue state as Asterisk reports it: members and waiting callers, from events or QueueStatus.

Pure: AMI events in, a ``QueueBoard`` out. The service feeds it every event it receives and
replaces it wholesale from a ``QueueStatus`` snapshot after each (re)connect, so what it shows is
what Asterisk has, never what the service merely intended.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from telephony.ami.events import AmiEvent


class DeviceStatus(enum.IntEnum):
    """``Status`` of a queue member: the Asterisk device state of its interface."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


@dataclass
class Member:
    queue: str
    interface: str  # e.g. PJSIP/1001
    name: str
    membership: str  # static | dynamic
    penalty: int
    paused: bool
    paused_reason: str
    status: DeviceStatus
    in_call: bool
    calls_taken: int
    last_call: float  # POSIX seconds, 0 if none
    changed_at: float  # when this view of the member last changed


@dataclass
class Waiting:
    queue: str
    uniqueid: str
    call_id: str
    caller_number: str
    position: int
    joined_at: float


@dataclass
class QueueBoard:
    """Per queue: members by interface and callers waiting, in position order."""

    members: dict[str, dict[str, Member]] = field(default_factory=dict)
    waiting: dict[str, dict[str, Waiting]] = field(default_factory=dict)
    ringing: dict[str, str] = field(default_factory=dict)  # interface → caller uniqueid

    def feed(self, ev: AmiEvent) -> bool:
        """Apply one event; True if the board changed."""
        handler = _HANDLERS.get(ev.name)
        return handler(self, ev) if handler is not None else False

    def callers(self, queue: str) -> list[Waiting]:
        return sorted(self.waiting.get(queue, {}).values(), key=lambda w: w.position)

    def member_list(self) -> list[Member]:
        return [m for q in self.members.values() for m in q.values()]

    # -- events ---------------------------------------------------------------------------
    def _join(self, ev: AmiEvent) -> bool:
        queue = ev.get("Queue")
        w = Waiting(
            queue,
            ev.get("Uniqueid"),
            ev.get("Linkedid"),
            ev.get("CallerIDNum"),
            _int(ev.get("Position")),
            ev.at,
        )
        here = self.waiting.setdefault(queue, {})
        here.pop(w.uniqueid, None)  # a join seen twice (resync) is one caller
        # A caller with a higher priority (QUEUE_PRIO) is inserted ahead of those already
        # waiting: Asterisk moves them back (app_queue's join_queue renumbers its list) but
        # sends no event for it, only the newcomer's Position. So we move them back too.
        for other in here.values():
            if other.position >= w.position:
                other.position += 1
        here[w.uniqueid] = w
        _renumber(here)
        return True

    def _leave(self, ev: AmiEvent) -> bool:
        queue, uid = ev.get("Queue"), ev.get("Uniqueid")
        gone = self.waiting.get(queue, {}).pop(uid, None)
        if gone is None:
            return False
        # Asterisk renumbers the callers behind; so do we.
        _renumber(self.waiting.get(queue, {}))
        for iface, caller in list(self.ringing.items()):
            if caller == uid:
                del self.ringing[iface]
        return True

    def _member(self, ev: AmiEvent) -> bool:
        m = member_from(ev)
        self.members.setdefault(m.queue, {})[m.interface] = m
        return True

    def _removed(self, ev: AmiEvent) -> bool:
        return self.members.get(ev.get("Queue"), {}).pop(ev.get("Interface"), None) is not None

    def _called(self, ev: AmiEvent) -> bool:
        self.ringing[ev.get("Interface")] = ev.get("Uniqueid")
        return True

    def _answered_or_not(self, ev: AmiEvent) -> bool:
        return self.ringing.pop(ev.get("Interface"), None) is not None

    def replace(self, snapshot: QueueBoard) -> None:
        self.members, self.waiting, self.ringing = snapshot.members, snapshot.waiting, {}


def member_from(ev: AmiEvent) -> Member:
    """A member from QueueMember (status reply) or QueueMember* (change) events."""
    iface = ev.get("Interface") or ev.get("Location")
    return Member(
        queue=ev.get("Queue"),
        interface=iface,
        name=ev.get("MemberName") or ev.get("Name") or iface,
        membership=ev.get("Membership"),
        penalty=_int(ev.get("Penalty")),
        paused=ev.get("Paused") == "1",
        paused_reason=ev.get("PausedReason"),
        status=DeviceStatus(_int(ev.get("Status")) if _int(ev.get("Status")) <= 8 else 0),
        in_call=ev.get("InCall") == "1",
        calls_taken=_int(ev.get("CallsTaken")),
        last_call=float(_int(ev.get("LastCall"))),
        changed_at=ev.at,
    )


def board_from_status(replies: list[AmiEvent]) -> QueueBoard:
    """A board from the events answering a ``QueueStatus`` action."""
    board = QueueBoard()
    for ev in replies:
        if ev.name == "QueueParams":
            board.members.setdefault(ev.get("Queue"), {})
            board.waiting.setdefault(ev.get("Queue"), {})
        elif ev.name == "QueueMember":
            m = member_from(ev)
            board.members.setdefault(m.queue, {})[m.interface] = m
        elif ev.name == "QueueEntry":
            queue = ev.get("Queue")
            w = Waiting(
                queue,
                ev.get("Uniqueid"),
                ev.get("Linkedid") or ev.get("Uniqueid"),
                ev.get("CallerIDNum"),
                _int(ev.get("Position")),
                ev.at - _int(ev.get("Wait")),
            )
            board.waiting.setdefault(queue, {})[w.uniqueid] = w
    for waiting in board.waiting.values():
        _renumber(waiting)
    return board


def _renumber(waiting: dict[str, Waiting]) -> None:
    """Positions 1..n in the order Asterisk serves the callers (its positions are that order;
    a gap or a tie, from an event missed during a reconnect, is closed here, the earlier
    joiner first)."""
    ordered = sorted(waiting.values(), key=lambda w: (w.position, w.joined_at))
    for n, w in enumerate(ordered, start=1):
        w.position = n


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


_HANDLERS = {
    "QueueCallerJoin": QueueBoard._join,
    "QueueCallerLeave": QueueBoard._leave,
    "QueueCallerAbandon": lambda self, ev: False,  # a Leave follows
    "QueueMemberAdded": QueueBoard._member,
    "QueueMemberStatus": QueueBoard._member,
    "QueueMemberPause": QueueBoard._member,
    "QueueMemberPenalty": QueueBoard._member,
    "QueueMemberRinginuse": QueueBoard._member,
    "QueueMemberRemoved": QueueBoard._removed,
    "AgentCalled": QueueBoard._called,
    "AgentConnect": QueueBoard._answered_or_not,
    "AgentRingNoAnswer": QueueBoard._answered_or_not,
}
