"""The call tracker: AMI events in, call records out. No I/O.

Calls are keyed by ``Linkedid``: every channel of one call (the caller's, each agent leg rung,
the agent who answered) carries the ``Linkedid`` of the first. The tracker is idempotent: a
replayed or duplicated event changes nothing (each transition is guarded by the state it leaves),
and resumable: after an AMI outage ``resync`` merges the PBX's list of live channels.

Several PBXes: one tracker per PBX (uniqueids and channel names mean something only on their
own PBX), and call ids made global with ``global_call_id`` before anything reads the events: two
Asterisks may both produce Linkedid ``1763700000.12``; their calls are ``pbx1-1763700000.12``
and ``pbx2-1763700000.12``. A PBX whose Asterisk has ``systemname = <name>`` (a private one
always does) already prefixes its ids so, and they are used unchanged.

One module on purpose (about 550 lines): the state machine's handlers read together, and the
record types it emits sit beside the transitions that fill them.
"""

from __future__ import annotations

import copy
import enum
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from telephony import dialplan
from telephony.ami.events import AmiEvent

log = logging.getLogger(__name__)

VAR_PREFIX = dialplan.PREFIX
_ENDED_MEMORY = 20_000  # ended call_ids remembered, so late duplicates are ignored


class Disposition(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    IVR_HANGUP = "ivr_hangup"
    NO_AGENT = "no_agent"
    TRANSFERRED = "transferred"  # the IVR sent the call on (e.g. to 110) and it was answered
    SELF_SERVICE = "self_service"  # the IVR ended the call itself, e.g. after a ticket status
    FAILED = "failed"
    OUTBOUND = "outbound"  # placed by the service (a survey callback), not a call to the hotline


class UpdateKind(enum.StrEnum):
    STARTED = "started"
    QUEUED = "queued"
    AGENT_CONNECTED = "agent_connected"
    ABANDONED = "abandoned"
    ENDED = "ended"


@dataclass
class CallRecord:
    """What the hotline knows of one call. Times are POSIX seconds; durations seconds."""

    call_id: str  # global: see global_call_id
    caller_number: str = ""
    caller_name: str = ""
    dialled_number: str = ""
    started_at: float = 0.0
    answered_at: float | None = None  # agent connected
    ended_at: float | None = None
    queue: str | None = None
    queue_joined_at: float | None = None
    queue_left_at: float | None = None
    agent: str | None = None  # extension, e.g. "1001"
    agent_name: str | None = None
    queue_wait: float | None = None
    ring_time: float | None = None
    talk_time: float | None = None
    talk_ended_at: float | None = None
    ended_by: str | None = None  # caller | agent | transfer
    disposition: Disposition | None = None
    hangup_cause: str | None = None
    recordings: dict[str, str] = field(default_factory=dict)  # leg -> path
    ivr_path: list[str] = field(default_factory=list)
    ivr: str | None = None  # done | skipped (IVR down or failed) | none (no menu) | None
    language: str | None = None  # the caller's language (chosen in the IVR or the route's)
    request_kind: str | None = None  # chosen in the IVR: consultation, complaint, ...
    request_category: str | None = None  # chosen at an IVR category level: street_lighting, ...
    variables: dict[str, str] = field(default_factory=dict)
    resynced: bool = False  # part of its history was rebuilt after an AMI outage
    pbx: str = ""  # the name of the PBX the call came through

    def copy(self) -> CallRecord:
        # A shallow copy plus fresh containers: the same as dataclasses.replace (no field has
        # init=False or __post_init__), without re-running __init__ over every field.
        new = copy.copy(self)
        new.recordings = dict(self.recordings)
        new.ivr_path = list(self.ivr_path)
        new.variables = dict(self.variables)
        return new


@dataclass(frozen=True)
class CallUpdate:
    kind: UpdateKind
    record: CallRecord  # a copy, safe to keep


@dataclass(frozen=True)
class Gap:
    """State the PBX has but the tracker missed during an AMI outage.

    ``kind`` is ``queued`` (the caller sits in a queue we never saw it join) or ``connected``
    (the caller is bridged to an agent we never saw connect). The service reads the channel
    variables the dialplan stamps (``HOTLINE_QUEUED``, ``HOTLINE_CONNECTED``, ``MEMBERINTERFACE``)
    and feeds the events back with ``gap_event``.
    """

    kind: str
    call_id: str
    caller_uid: str
    caller_channel: str
    agent_uid: str = ""
    agent_channel: str = ""


@dataclass(frozen=True)
class ResyncResult:
    updates: list[CallUpdate]
    gaps: list[Gap]


def gap_event(gap: Gap, variables: dict[str, str]) -> AmiEvent | None:
    """The event the tracker missed, rebuilt from channel variables (None if they are absent)."""
    base = {"Linkedid": gap.call_id, "Uniqueid": gap.caller_uid, "Channel": gap.caller_channel}
    if gap.kind == "queued":
        queue, at = variables.get(dialplan.QUEUE, ""), _num(variables.get(dialplan.QUEUED, ""))
        if not queue or at is None:
            return None
        return AmiEvent("QueueCallerJoin", {**base, "Queue": queue}, at)
    at = _num(variables.get(dialplan.CONNECTED, ""))
    if at is None:
        return None
    headers = {
        **base,
        "Queue": variables.get(dialplan.QUEUE, ""),
        "Interface": variables.get(dialplan.MEMBERINTERFACE, ""),
        "MemberName": variables.get(dialplan.MEMBERNAME, ""),
        "DestUniqueid": gap.agent_uid,
        "DestChannel": gap.agent_channel,
    }
    return AmiEvent("AgentConnect", headers, at)


@dataclass
class _Call:
    record: CallRecord
    live: dict[str, float] = field(default_factory=dict)  # uniqueid -> last seen
    seen: set[str] = field(default_factory=set)
    caller_uid: str = ""
    agent_uid: str | None = None
    pbx_answered: bool = False
    abandoned: bool = False
    in_queue: bool = False
    last_agent_called_at: dict[str, float] = field(default_factory=dict)  # interface -> time
    restored: bool = False  # taken over from a stored record; its channels not seen yet


def global_call_id(pbx: str, linkedid: str) -> str:
    """The global id of a PBX's call: ``<pbx>-<linkedid>`` (Asterisk's ``Linkedid``), unless
    the PBX's own id already starts so (its Asterisk's ``systemname`` is the PBX's name). PBX
    names have no '-'."""
    if not pbx or not linkedid or linkedid.startswith(pbx + "-"):
        return linkedid
    return f"{pbx}-{linkedid}"


def scoped(pbx: str) -> Callable[[AmiEvent], AmiEvent]:
    """A function that gives an event of PBX ``pbx`` its global call id (``Linkedid``); the
    event itself when it needs none (every event of a PBX with a matching ``systemname``)."""
    prefix = pbx + "-"

    def scope(ev: AmiEvent) -> AmiEvent:
        linkedid = ev.headers.get("Linkedid")
        if not linkedid or not pbx or linkedid.startswith(prefix):
            return ev
        return AmiEvent(
            ev.name, {**ev.headers, "Linkedid": prefix + linkedid}, ev.at, ev.received_at
        )

    return scope


def _extension(interface: str) -> str:
    """``PJSIP/1001`` → ``1001`` (also ``Local/1001@ctx``)."""
    tail = interface.split("/", 1)[-1]
    return tail.split("@", 1)[0].split("-", 1)[0]


_Handler = Callable[["CallTracker", _Call, AmiEvent, list[CallUpdate]], None]


class CallTracker:
    """Feed it AMI events in order; it returns what changed for each call."""

    def __init__(self, pbx: str = "") -> None:
        """``pbx``: the name put on every record (events must already carry global ids)."""
        self.pbx = pbx
        self._calls: dict[str, _Call] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        # ``_on_<event name in lower case>`` handles that event. Looked up once here rather
        # than by building and resolving the method name for every event (feed is hot).
        self._handlers: dict[str, _Handler] = {
            name.removeprefix("_on_"): getattr(type(self), name)
            for name in dir(type(self))
            if name.startswith("_on_")
        }

    @property
    def active(self) -> list[CallRecord]:
        return [c.record.copy() for c in self._calls.values()]

    def get(self, call_id: str) -> CallRecord | None:
        """A copy of the call in progress ``call_id``, or None."""
        call = self._calls.get(call_id)
        return call.record.copy() if call is not None else None

    # -- events ------------------------------------------------------------------------------
    def feed(self, ev: AmiEvent) -> list[CallUpdate]:
        handler = self._handlers.get(ev.name.lower())
        if handler is None:
            return []
        headers = ev.headers  # read directly: this runs for most events of every call
        call_id = headers.get("Linkedid", "")
        if not call_id or call_id in self._ended:
            return []
        updates: list[CallUpdate] = []
        uid = headers.get("Uniqueid", "")
        call = self._calls.get(call_id)
        if call is None:
            if not uid:
                return []
            # Usually a Newchannel; any channel event adopts a call first seen mid-way.
            call = self._start(ev, updates)
        if uid and ev.name != "Hangup" and uid not in call.seen:
            call.seen.add(uid)
            call.live[uid] = ev.at
        elif uid in call.live:
            call.live[uid] = ev.at
        handler(self, call, ev, updates)
        if call.seen and not call.live:
            self._end(call, ev.at, updates)
        return updates

    def _start(self, ev: AmiEvent, updates: list[CallUpdate]) -> _Call:
        call_id = ev.get("Linkedid")
        rec = CallRecord(
            call_id=call_id,
            caller_number=ev.get("CallerIDNum"),
            caller_name=ev.get("CallerIDName"),
            dialled_number=ev.get("Exten"),
            started_at=ev.at,
            pbx=self.pbx,
        )
        # Asterisk's placeholder for "not given" is not a number or a name.
        if rec.caller_number == "<unknown>":
            rec.caller_number = ""
        if rec.caller_name == "<unknown>":
            rec.caller_name = ""
        call = _Call(record=rec, caller_uid=ev.get("Uniqueid"))
        self._calls[call_id] = call
        updates.append(CallUpdate(UpdateKind.STARTED, rec.copy()))
        return call

    def _on_newchannel(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        if ev.get("Uniqueid") == call.caller_uid and ev.get("ChannelState") == "6":
            call.pbx_answered = True  # state 6 = Up: the PBX answered the caller

    _on_newstate = _on_newchannel

    def _on_varset(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        # Inherited variables arrive as __NAME on the first Set. Most VarSets are Asterisk's
        # own variables, so the name is checked before anything else is read.
        name = ev.headers.get("Variable", "").lstrip("_")
        if not name.startswith(VAR_PREFIX):
            return
        value = ev.get("Value")
        rec = call.record
        rec.variables[name] = value
        if name == dialplan.DIALLED:
            rec.dialled_number = value
        elif name == dialplan.REC and value:
            rec.recordings = {
                "mix": f"{value}-mix.wav",
                "caller": f"{value}-caller.wav",
                "agent": f"{value}-agent.wav",
            }
        elif name == dialplan.IVR_PATH:
            rec.ivr_path = [p for p in value.split("/") if p]
        elif name == dialplan.IVR:
            rec.ivr = value or None
        elif name == dialplan.LANGUAGE:
            rec.language = value or None
        elif name == dialplan.KIND:
            rec.request_kind = value or None
        elif name == dialplan.CATEGORY:
            rec.request_category = value or None

    def _on_queuecallerjoin(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        queue = ev.get("Queue")
        if call.in_queue and call.record.queue == queue:
            return  # duplicate
        rec = call.record
        rec.queue = queue
        if rec.queue_joined_at is None:  # an overflow keeps the first join: the wait is total
            rec.queue_joined_at = ev.at
        rec.queue_left_at = None
        call.in_queue = True
        updates.append(CallUpdate(UpdateKind.QUEUED, rec.copy()))

    def _on_agentcalled(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        iface = ev.get("Interface") or ev.get("DestChannel")
        call.last_agent_called_at.setdefault(iface, ev.at)

    def _on_agentringnoanswer(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        call.last_agent_called_at.pop(ev.get("Interface"), None)
        dest = ev.get("DestUniqueid")
        call.live.pop(dest, None)  # the rung leg is gone (its Hangup follows anyway)
        call.seen.add(dest)

    def _on_agentconnect(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        rec = call.record
        if rec.answered_at is not None:
            return  # duplicate
        iface = ev.get("Interface")
        rec.answered_at = ev.at
        rec.agent = _extension(iface) if iface else ev.get("MemberName")
        rec.agent_name = ev.get("MemberName") or None
        rec.queue = ev.get("Queue") or rec.queue
        joined = rec.queue_joined_at
        rec.queue_wait = (
            round(ev.at - joined, 3) if joined is not None else _num(ev.get("HoldTime"))
        )
        called = call.last_agent_called_at.get(iface)
        rec.ring_time = round(ev.at - called, 3) if called is not None else _num(ev.get("RingTime"))
        call.agent_uid = ev.get("DestUniqueid") or None
        if call.agent_uid:
            call.seen.add(call.agent_uid)
            call.live.setdefault(call.agent_uid, ev.at)
        call.in_queue = False
        rec.queue_left_at = ev.at
        updates.append(CallUpdate(UpdateKind.AGENT_CONNECTED, rec.copy()))

    def _on_agentcomplete(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        rec = call.record
        rec.ended_by = ev.get("Reason") or rec.ended_by
        self._talk_ended(call, ev.at)

    def _on_queuecallerabandon(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        if call.abandoned or call.record.answered_at is not None:
            return
        call.abandoned = True
        self._left_queue(call, ev.at)
        call.record.ended_by = "caller"
        updates.append(CallUpdate(UpdateKind.ABANDONED, call.record.copy()))

    def _on_queuecallerleave(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        self._left_queue(call, ev.at)

    def _on_bridgeleave(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        uid = ev.get("Uniqueid")
        if uid in (call.caller_uid, call.agent_uid):
            rec = call.record
            # The side that hung up leaves the bridge first (Hangup events may come in either
            # order). AgentComplete's Reason says the same, but it is missing in some paths.
            if rec.ended_by is None and rec.answered_at is not None and rec.talk_ended_at is None:
                rec.ended_by = "caller" if uid == call.caller_uid else "agent"
            self._talk_ended(call, ev.at)

    def _on_hangup(self, call: _Call, ev: AmiEvent, updates: list[CallUpdate]) -> None:
        uid = ev.get("Uniqueid")
        call.seen.add(uid)
        if call.live.pop(uid, None) is None:
            return  # duplicate or unknown leg
        if uid == call.caller_uid:
            call.record.hangup_cause = ev.get("Cause-txt") or ev.get("Cause")
            if call.in_queue:
                # Missed the abandon event (AMI outage): a caller hanging up in queue abandons.
                call.abandoned = True
                self._left_queue(call, ev.at)
        if uid in (call.caller_uid, call.agent_uid):
            if call.record.ended_by is None and call.record.answered_at is not None:
                call.record.ended_by = "caller" if uid == call.caller_uid else "agent"
            self._talk_ended(call, ev.at)

    # -- helpers -----------------------------------------------------------------------------
    def _left_queue(self, call: _Call, at: float) -> None:
        rec = call.record
        if call.in_queue:
            call.in_queue = False
            rec.queue_left_at = at
            if rec.answered_at is None and rec.queue_joined_at is not None:
                rec.queue_wait = round(at - rec.queue_joined_at, 3)

    def _talk_ended(self, call: _Call, at: float) -> None:
        rec = call.record
        if rec.answered_at is None or rec.talk_ended_at is not None:
            return
        rec.talk_ended_at = at
        rec.talk_time = round(at - rec.answered_at, 3)

    def _end(self, call: _Call, at: float, updates: list[CallUpdate]) -> None:
        rec = call.record
        rec.ended_at = at
        self._talk_ended(call, at)
        if rec.variables.get(dialplan.OUTBOUND):  # the dialplan marks calls the service placed
            rec.disposition = Disposition.OUTBOUND
        elif rec.answered_at is not None:
            rec.disposition = Disposition.ANSWERED
        elif call.abandoned:
            rec.disposition = Disposition.ABANDONED
        elif rec.queue_joined_at is not None:
            rec.disposition = Disposition.NO_AGENT
        elif rec.variables.get(dialplan.TRANSFERRED):
            rec.disposition = Disposition.TRANSFERRED
            rec.ended_by = rec.ended_by or "transfer"
        elif rec.variables.get(dialplan.ACTION) == dialplan.ACTION_HANGUP:
            rec.disposition = Disposition.SELF_SERVICE
        elif call.pbx_answered or rec.variables.get(dialplan.DIALLED):
            rec.disposition = Disposition.IVR_HANGUP
        else:
            rec.disposition = Disposition.FAILED
        del self._calls[rec.call_id]
        self._ended[rec.call_id] = None
        while len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)
        updates.append(CallUpdate(UpdateKind.ENDED, rec.copy()))

    # -- resynchronisation -------------------------------------------------------------------
    def restore(self, records: Iterable[CallRecord]) -> int:
        """Take over calls that another process was tracking when it stopped (records stored
        while in progress), before the first ``resync``: a call the PBX still has goes on
        with everything known of it (IVR choices, queue join, agent); one the PBX no longer
        has ended unseen and is closed by that ``resync``. Returns how many were taken."""
        taken = 0
        for stored in records:
            call_id = stored.call_id
            if stored.ended_at is not None or call_id in self._calls or call_id in self._ended:
                continue
            rec = stored.copy()
            # The caller's channel is the call's first: its Uniqueid is the Linkedid. Until
            # the resync shows it, it counts as live since the beginning of time.
            call = _Call(record=rec, caller_uid=call_id, restored=True)
            call.seen.add(call_id)
            call.live[call_id] = 0.0
            call.in_queue = rec.queue_joined_at is not None and rec.answered_at is None
            self._calls[call_id] = call
            taken += 1
        return taken

    def _adopt_restored(self, channels: list[AmiEvent]) -> None:
        """Restored calls meet their live channels: the caller's leg (if its Uniqueid is not
        the Linkedid after all) and the agent's leg bridged to it."""
        by_call: dict[str, list[AmiEvent]] = {}
        for ch in channels:
            by_call.setdefault(ch.get("Linkedid"), []).append(ch)
        for call in self._calls.values():
            if not call.restored:
                continue
            call.restored = False
            legs = by_call.get(call.record.call_id, [])
            if not legs:
                continue  # ended unseen: the caller's leg is not live, resync closes it
            uids = {ch.get("Uniqueid") for ch in legs}
            if call.caller_uid not in uids:
                call.live.pop(call.caller_uid, None)
                oldest = max(legs, key=lambda ch: _duration(ch.get("Duration")))
                call.caller_uid = oldest.get("Uniqueid")
            caller = next(ch for ch in legs if ch.get("Uniqueid") == call.caller_uid)
            bridge = caller.get("BridgeId")
            if call.record.answered_at is not None and bridge:
                peers = [ch for ch in legs if ch.get("BridgeId") == bridge and ch is not caller]
                if peers:
                    call.agent_uid = peers[0].get("Uniqueid")

    def resync(self, channels: Iterable[AmiEvent], asked_at: float, now: float) -> ResyncResult:
        """Merge the PBX's live channels (``CoreShowChannel`` events) after a reconnect.

        Unknown live channels are adopted; channels known from before ``asked_at`` that the PBX
        no longer has ended during the outage, and are closed at ``now``. Queue joins and agent
        connections that happened unseen are returned as ``gaps`` for the caller to fill.
        """
        channels = list(channels)
        self._adopt_restored(channels)
        updates: list[CallUpdate] = []
        alive: set[str] = set()
        for ch in channels:
            alive.add(ch.get("Uniqueid"))
            call_id = ch.get("Linkedid")
            if not call_id or call_id in self._ended:
                continue
            call = self._calls.get(call_id)
            if call is None:
                started = now - _duration(ch.get("Duration"))
                ch = AmiEvent(ch.name, ch.headers, started, ch.received_at)
                call = self._start(ch, updates)
                call.record.resynced = True
            uid = ch.get("Uniqueid")
            if uid not in call.live:
                call.seen.add(uid)
                call.live[uid] = now
                call.record.resynced = True
            if uid == call.caller_uid and ch.get("ChannelState") == "6":
                call.pbx_answered = True
        for call in list(self._calls.values()):
            gone = [u for u, seen in call.live.items() if u not in alive and seen < asked_at]
            for uid in gone:
                log.warning(
                    "call %s: channel %s ended while AMI was down", call.record.call_id, uid
                )
                call.record.resynced = True
                hangup = AmiEvent("Hangup", {"Uniqueid": uid, "Linkedid": call.record.call_id}, now)
                updates += self.feed(hangup)
        return ResyncResult(updates, self._gaps(channels))

    def _gaps(self, channels: list[AmiEvent]) -> list[Gap]:
        by_bridge: dict[str, list[AmiEvent]] = {}
        for ch in channels:
            if ch.get("BridgeId"):
                by_bridge.setdefault(ch.get("BridgeId"), []).append(ch)
        gaps: list[Gap] = []
        for ch in channels:
            call = self._calls.get(ch.get("Linkedid"))
            if call is None or ch.get("Uniqueid") != call.caller_uid:
                continue
            if ch.get("Application") != "Queue":
                continue
            rec = call.record
            caller = (rec.call_id, ch.get("Uniqueid"), ch.get("Channel"))
            peers = [p for p in by_bridge.get(ch.get("BridgeId"), []) if p is not ch]
            if rec.answered_at is None and peers:
                agent = peers[0]
                gaps.append(Gap("connected", *caller, agent.get("Uniqueid"), agent.get("Channel")))
            elif rec.queue_joined_at is None:
                gaps.append(Gap("queued", *caller))
        return gaps


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _duration(text: str) -> float:
    """``HH:MM:SS`` → seconds (0 when unparsable)."""
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + s)
