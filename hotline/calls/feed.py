"""One PBX's call feed: AMI events → global call ids → tracker → recorder → store, then the
features (``CallFanout``).

After every (re)login ``resync`` merges the PBX's live channels into the tracker; once per
process it first takes over the calls stored in progress by a process that stopped (a
restart, or the active instance of a pair that died), and it fills the gaps an outage left
(a queue join or an agent connection never seen) from the variables the dialplan stamps on the
channels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hotline.calls.fanout import CallFanout
from hotline.calls.store import CallStore
from hotline.calls.writer import CallWriter
from hotline.core.logs import log_context
from telephony import dialplan
from telephony.ami.connection import AmiConnection
from telephony.ami.events import AmiEvent
from telephony.errors import AmiActionError
from telephony.tracker import CallRecord, CallTracker, CallUpdate, Gap, UpdateKind, gap_event

log = logging.getLogger(__name__)

# Records in progress older than this are a crash long ago, not calls to take over.
RESTORE_WINDOW = timedelta(hours=6)


@dataclass
class CallFeed:
    """The call-record feature of one PBX (one tracker per PBX, one recorder for all)."""

    tracker: CallTracker
    recorder: CallWriter
    ami: AmiConnection | None = None
    # Calls ended since the service started, by disposition (the Prometheus counters; one
    # counter shared by every PBX's feed).
    ended: Counter[str] = field(default_factory=Counter)
    # Where records left in progress by a process that stopped are read back from.
    store: CallStore | None = None
    _restored: bool = False
    # Gives the PBX's events global call ids (telephony.tracker.scoped); None: one PBX, as is.
    scope: Callable[[AmiEvent], AmiEvent] | None = None
    # The features, in order (default: none).
    fanout: CallFanout = field(default_factory=CallFanout)

    @property
    def pbx(self) -> str:
        return self.tracker.pbx

    def on_event(self, raw: AmiEvent) -> None:
        """An AMI event of this PBX: tracked and stored first, then every feature's step."""
        ev = self.scope(raw) if self.scope is not None else raw
        # Every line about this event, here and in the features' steps, names its call.
        with log_context(call_id=ev.get("Linkedid"), pbx=self.pbx):
            updates = self.tracker.feed(ev)
            self._emit(updates)
            self.fanout.event(self.pbx, ev, updates)

    def _emit(self, updates: list[CallUpdate]) -> None:
        """Count ended calls (the Prometheus counters), say so in the log (one line a call),
        and hand the updates to the recorder."""
        for u in updates:
            if u.kind is UpdateKind.ENDED:
                rec = u.record
                self.ended[rec.disposition or "unknown"] += 1
                with log_context(call_id=rec.call_id, agent=rec.agent, pbx=rec.pbx or self.pbx):
                    log.info("call ended: %s", ended_summary(rec))
        self.recorder.submit(updates)

    async def resync(self) -> None:
        """After every (re)login: merge the PBX's live channels into the tracker."""
        assert self.ami is not None
        if not self._restored and self.store is not None:
            # Once per process, before the first resync: calls the previous process (or the
            # active instance that died) was tracking go on, or are closed if they ended.
            self._restored = True
            since = datetime.now(UTC) - RESTORE_WINDOW
            pbx = self.tracker.pbx or None  # this PBX's calls only: each has its own tracker
            stored = await asyncio.to_thread(self.store.in_progress, since, pbx)
            taken = self.tracker.restore(stored)
            if taken:
                log.warning("resync: took over %d call(s) stored in progress", taken)
        asked = time.time()
        reply = await self.ami.send({"Action": "CoreShowChannels"}, as_list=True, timeout=15)
        channels = [AmiEvent.from_headers(m) for m in reply if m.get("Event") == "CoreShowChannel"]
        if self.scope is not None:
            channels = [self.scope(ch) for ch in channels]
        result = self.tracker.resync(channels, asked, time.time())
        self._emit(result.updates)
        self.fanout.resynced(result.updates)
        for gap in result.gaps:
            await self._fill(gap)
        log.info(
            "resync %s: %d live channel(s), %d update(s), %d gap(s) filled",
            self.tracker.pbx,
            len(channels),
            len(result.updates),
            len(result.gaps),
        )

    async def _fill(self, gap: Gap) -> None:
        """Read back what the dialplan stamped on the channels and replay the missed event."""
        assert self.ami is not None
        wanted = [(gap.caller_channel, dialplan.QUEUE), (gap.caller_channel, dialplan.QUEUED)]
        if gap.kind == "connected":
            wanted += [
                (gap.agent_channel, dialplan.CONNECTED),
                (gap.caller_channel, dialplan.MEMBERINTERFACE),
                (gap.caller_channel, dialplan.MEMBERNAME),
            ]
        values: dict[str, str] = {}
        for channel, name in wanted:
            try:
                reply = await self.ami.send(
                    {"Action": "Getvar", "Channel": channel, "Variable": name}
                )
            except AmiActionError as exc:  # the channel hung up meanwhile: its Hangup follows
                log.info("resync: %s of %s unavailable (%s)", name, channel, exc)
                return
            values[name] = reply.get("Value", "")
        # A missed connect may hide a missed join too; the tracker ignores a join it already has.
        for kind in ["queued"] + (["connected"] if gap.kind == "connected" else []):
            event = gap_event(replace(gap, kind=kind), values)
            if event is not None:
                updates = self.tracker.feed(event)
                self._emit(updates)
                self.fanout.resynced(updates)


def ended_summary(rec: CallRecord) -> str:
    """What a call's end line says: how it ended and its timings; never the caller's number
    (personal data stays in the database)."""
    parts = [str(rec.disposition or "unknown")]
    if rec.queue:
        parts.append(f"queue {rec.queue}")
    if rec.queue_wait is not None:
        parts.append(f"wait {rec.queue_wait:.1f} s")
    if rec.talk_time is not None:
        parts.append(f"talk {rec.talk_time:.1f} s")
    if rec.resynced:
        parts.append("resynced")
    return ", ".join(parts)
