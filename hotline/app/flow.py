"""The path of a call through the service: which feature hears what, and in which order.

Every AMI event of a PBX goes to that PBX's ``CallFeed`` (``hotline.calls.feed``), which does
step 0 itself and then hands the event, with the updates it produced, to the fan-out
(``hotline.calls.fanout.CallFanout``), whose steps run in the order registered below:

0. **calls** (the feed itself): the event gets its global call id (two PBXes may both use a
   call_id), the PBX's tracker turns it into ``CallUpdate``s, which are counted (Prometheus)
   and queued for the store. It comes first so that every later step reads the call as it
   stands after the event (the live view reads the trackers, the screen-pop the record).
1. **agents** (raw ``AgentComplete`` and ``QueueMemberPause`` events): the agent's wrap-up pause
   starts after a call; a ring-out auto-pause is recorded as "no answer". The desk reacts in
   tasks of its own, so it delays nothing after it.
2. **supervision** (every raw event): the PBX's queue board (members, waiting callers) follows
   the event, and the wallboard is marked for a fresh snapshot. Steps 1 and 2 do not depend on
   each other; this is the order the service has always had.
3. **screen-pop** (the tracker's ``AGENT_CONNECTED`` update, which carries the call's record):
   the connected agent's pages get the call, the caller's history and suggestions. Last: its
   look-ups (caller history, articles) run in a task and hold up nothing before it. A
   connection rebuilt by a resync (no event caused it) is not popped.

After each (re)login to a PBX, in order (each one awaited; a failure means a new login):

1. **calls: resync**: calls stored in progress by a process that stopped are taken over (once),
   the PBX's live channels are merged into the tracker, and the gaps of the outage are filled.
2. **agents: reconcile**: queue membership is made to match the agents' sessions, after the
   resync so that the calls are known before members change.
3. **supervision: refresh**: the wallboard gets a snapshot of the PBX as now read.

Once the recorder has stored an update:

1. **transcription** (``ENDED`` updates): an answered, recorded call becomes a transcription job.
   After the store: the call's record is in the database before its job exists (the job's
   results go onto the call's tickets), and an update still waiting for the database (an
   outage) makes no job until it is written.
"""

from __future__ import annotations

from collections.abc import Mapping

from hotline.agents.desk import AgentDesk
from hotline.calls.fanout import CallFanout
from hotline.calls.feed import CallFeed
from hotline.screenpop.service import ScreenPop
from hotline.supervision.live import LiveView
from hotline.transcription.service import Transcription
from telephony.tracker import UpdateKind

# The raw events the agent desk reacts to (``AgentDesk.on_event``).
DESK_EVENTS = frozenset({"AgentComplete", "QueueMemberPause"})


def wire_call_flow(
    fanout: CallFanout,
    feeds: Mapping[str, CallFeed],
    *,
    desk: AgentDesk,
    live: LiveView,
    screenpop: ScreenPop,
    transcription: Transcription | None,
) -> None:
    """Register the service's steps on ``fanout``, in the order of this module's docstring.
    ``feeds``: each PBX's call feed by PBX name (each one hands its events to ``fanout``)."""
    fanout.register("agents", on_event=desk.on_event, events=DESK_EVENTS)
    fanout.register("supervision", on_event=live.on_event)
    fanout.register("screenpop", on_update=screenpop.on_update, kinds={UpdateKind.AGENT_CONNECTED})

    async def resync(pbx: str) -> None:
        await feeds[pbx].resync()

    def refresh(pbx: str) -> None:
        live.changed()

    fanout.on_connected("calls: resync", resync)
    fanout.on_connected("agents: reconcile", desk.reconcile)
    fanout.on_connected("supervision: refresh", refresh)
    if transcription is not None:
        fanout.on_stored("transcription", transcription.on_update, kinds={UpdateKind.ENDED})
