"""The path of a call through the service, without Asterisk: the fan-out's order and isolation,
the call feed (tracker first, then the features), the screen-pop reacting to the tracker's
AGENT_CONNECTED update, the service's registrations (``hotline.app.flow``) and the agent desk's
agents kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hotline.app.flow import DESK_EVENTS, wire_call_flow
from hotline.callers.config import CallerSettings
from hotline.callers.history import CallerHistory, PastCall, PastTicket
from hotline.calls.fanout import CallFanout
from hotline.calls.feed import CallFeed
from hotline.calls.writer import CallWriter
from hotline.screenpop.schemas import PopMessage
from hotline.screenpop.service import ScreenPop
from hotline.telemetry.metrics import ServiceMetrics
from telephony.ami.events import AmiEvent
from telephony.tracker import CallRecord, CallTracker, CallUpdate, UpdateKind, scoped

T0 = 1_763_700_000.0


def ev(name: str, at: float, **headers: str) -> AmiEvent:
    return AmiEvent(name, {"Event": name, **headers}, T0 + at, received_at=T0 + at + 0.001)


def a_call(call_id: str = "1763700000.1", agent: str = "1001") -> list[AmiEvent]:
    """A caller who chose Mandarin and a complaint, queued, and connected to ``agent``."""
    caller = {"Linkedid": call_id, "Uniqueid": call_id, "Channel": "PJSIP/trunk-00000001"}
    return [
        ev("Newchannel", 0, **caller, CallerIDNum="13900000001", Exten="12345"),
        ev("VarSet", 1, **caller, Variable="HOTLINE_LANGUAGE", Value="zh"),
        ev("VarSet", 2, **caller, Variable="HOTLINE_KIND", Value="complaint"),
        ev("QueueCallerJoin", 3, **caller, Queue="operator"),
        ev("AgentCalled", 4, **caller, Interface=f"PJSIP/{agent}"),
        ev(
            "AgentConnect",
            9,
            **caller,
            Queue="operator",
            Interface=f"PJSIP/{agent}",
            MemberName="Agent One",
            DestUniqueid="1763700000.2",
            HoldTime="6",
        ),
    ]


class NullRecorder(CallWriter):
    """Takes the updates (as the service's recorder queues them) and stores nothing."""

    def __init__(self) -> None:
        self.updates: list[CallUpdate] = []

    def submit(self, updates: Any) -> None:
        self.updates += list(updates)


# -- the registry -------------------------------------------------------------------------------
def test_steps_run_in_registration_order_and_a_failing_step_stops_none() -> None:
    fanout = CallFanout()
    heard: list[tuple[str, str]] = []

    def broken(event: AmiEvent, pbx: str) -> None:
        raise RuntimeError("a bug in one feature")

    fanout.register("first", on_event=lambda e, pbx: heard.append(("first", e.name)))
    fanout.register("broken", on_event=broken)
    fanout.register(
        "updates",
        on_update=lambda u, cause: heard.append(("updates", f"{u.kind}:{cause is not None}")),
        kinds={UpdateKind.QUEUED},
    )
    fanout.register(
        "joins only",
        on_event=lambda e, pbx: heard.append(("joins", pbx)),
        events={"QueueCallerJoin"},
    )
    assert fanout.order == ["first", "broken", "updates", "joins only"]
    tracker = CallTracker("pbx1")
    for event in a_call()[:4]:
        fanout.event("pbx1", event, tracker.feed(event))
    assert heard == [
        ("first", "Newchannel"),
        ("first", "VarSet"),
        ("first", "VarSet"),
        ("first", "QueueCallerJoin"),
        ("updates", "queued:True"),
        ("joins", "pbx1"),
    ]
    assert fanout.failures == 4
    # Updates a resync rebuilt come without an event; raw-event steps do not hear them.
    heard.clear()
    fanout.resynced(
        [
            CallUpdate(UpdateKind.QUEUED, CallRecord("x")),
            CallUpdate(UpdateKind.ENDED, CallRecord("x")),
        ]
    )
    assert heard == [("updates", "queued:False")]
    with pytest.raises(ValueError, match="registered twice"):
        fanout.register("first", on_event=lambda e, pbx: None)
    with pytest.raises(ValueError, match="handles nothing"):
        fanout.register("idle")


async def test_logins_are_awaited_in_order_and_stored_updates_filtered() -> None:
    fanout = CallFanout()
    done: list[str] = []

    async def resync(pbx: str) -> None:
        await asyncio.sleep(0.01)
        done.append(f"resync {pbx}")

    fanout.on_connected("resync", resync)
    fanout.on_connected("refresh", lambda pbx: done.append(f"refresh {pbx}"))
    await fanout.connected("pbx2")
    assert done == ["resync pbx2", "refresh pbx2"]
    stored: list[UpdateKind] = []
    fanout.on_stored("ended", lambda u: stored.append(u.kind), kinds={UpdateKind.ENDED})
    for kind in (UpdateKind.STARTED, UpdateKind.ENDED):
        fanout.stored(CallUpdate(kind, CallRecord("y")))
    assert stored == [UpdateKind.ENDED]


def test_the_feed_tracks_and_records_before_any_feature_hears_the_event() -> None:
    fanout = CallFanout()
    recorder = NullRecorder()
    tracker = CallTracker("pbx2")
    feed = CallFeed(tracker, recorder, scope=scoped("pbx2"), fanout=fanout)
    seen: list[tuple[str, str, str | None]] = []

    def on_event(event: AmiEvent, pbx: str) -> None:
        # The tracker has the event already; the recorder has its updates.
        rec = tracker.get(event.get("Linkedid"))
        seen.append((event.get("Linkedid"), pbx, rec.queue if rec else None))
        assert len(recorder.updates) >= 1

    fanout.register("reader", on_event=on_event)
    for event in a_call():
        feed.on_event(event)
    assert {s[:2] for s in seen} == {("pbx2-1763700000.1", "pbx2")}  # global id, its PBX
    assert seen[3][2] == "operator"  # the join is in the tracker when the step hears it
    kinds = [u.kind for u in recorder.updates]
    assert kinds == [UpdateKind.STARTED, UpdateKind.QUEUED, UpdateKind.AGENT_CONNECTED]


# -- the screen-pop -----------------------------------------------------------------------------
class NoHistory:
    def past_calls(self, number: str, limit: int) -> Sequence[PastCall]:
        return []

    def past_tickets(self, number: str, limit: int) -> Sequence[PastTicket]:
        return []


class Seats:
    """``agent_at``: agent 'one' sits at 1001 on pbx1."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, extension: str, pbx: str | None) -> Any:
        self.asked.append((extension, pbx))
        if (extension, pbx) == ("1001", "pbx1"):
            return type("A", (), {"agent_id": "one"})()
        return None


async def test_the_pop_comes_from_the_connected_update() -> None:
    seats = Seats()

    def suggest(kind: str | None, category: str | None, language: str | None) -> list[Any]:
        return [{"id": f"{kind}-{language}", "title": "t", "snippet": "s", "category": category}]

    registry = CollectorRegistry()
    latency = ServiceMetrics.on(registry).pop_latency
    pop = ScreenPop(CallerHistory(CallerSettings(), NoHistory()), seats, suggest, latency=latency)
    fanout = CallFanout()
    fanout.register("screenpop", on_update=pop.on_update, kinds={UpdateKind.AGENT_CONNECTED})
    feed = CallFeed(CallTracker("pbx1"), NullRecorder(), scope=scoped("pbx1"), fanout=fanout)
    page = pop.subscribe("one")
    for event in a_call():
        feed.on_event(event)
    message = await asyncio.wait_for(page.get(), 5)
    assert isinstance(message, PopMessage)
    got = message.model_dump()
    assert seats.asked == [("1001", "pbx1")]
    assert got["call_id"] == "pbx1-1763700000.1" and got["agent_id"] == "one"
    assert got["received_at"] == T0 + 9.001  # when the AgentConnect reached the service
    assert got["call"]["queue"] == "operator" and got["call"]["wait_s"] == 6.0
    assert got["call"]["request_kind"] == "complaint" and got["call"]["started_at"] == T0
    assert got["caller"]["number"] == "13900000001" and got["caller"]["language"] == "zh"
    assert got["draft"]["caller_language"] == "zh"
    assert [s["id"] for s in got["suggestions"]] == ["complaint-zh"]
    # Another agent's connection, and one a resync rebuilt: no pop for 'one'.
    for event in a_call("1763700000.5", agent="1002"):
        feed.on_event(event)
    rebuilt = CallUpdate(UpdateKind.AGENT_CONNECTED, CallRecord("pbx1-9", agent="1001", pbx="pbx1"))
    fanout.resynced([rebuilt])
    await pop.idle()  # the other agent's look-up has run its course
    assert page.empty() and pop.popped == 1
    assert seats.asked == [("1001", "pbx1"), ("1002", "pbx1")]
    # The one pop sent was timed (AgentConnect's arrival → sent); nobody's pop, none.
    assert registry.get_sample_value("hotline_screenpop_latency_seconds_count") == 1
    pop.close()


async def test_the_ivr_category_is_on_the_pop_and_chooses_the_articles() -> None:
    asked: list[tuple[str | None, str | None, str | None]] = []

    def suggest(kind: str | None, category: str | None, language: str | None) -> list[Any]:
        asked.append((kind, category, language))
        return [{"id": f"{category}-1", "title": "t", "snippet": "s", "category": category}]

    pop = ScreenPop(CallerHistory(CallerSettings(), NoHistory()), Seats(), suggest)
    fanout = CallFanout()
    fanout.register("screenpop", on_update=pop.on_update, kinds={UpdateKind.AGENT_CONNECTED})
    tracker = CallTracker("pbx1")
    feed = CallFeed(tracker, NullRecorder(), scope=scoped("pbx1"), fanout=fanout)
    page = pop.subscribe("one")
    events = a_call()
    caller = {k: events[0].get(k) for k in ("Linkedid", "Uniqueid", "Channel")}
    # A category level after the kind: the IVR sets it inherited (the event says __NAME).
    chosen = ev("VarSet", 2.5, **caller, Variable="__HOTLINE_CATEGORY", Value="street_lighting")
    for event in [*events[:3], chosen, *events[3:]]:
        feed.on_event(event)
    message = await asyncio.wait_for(page.get(), 5)
    assert isinstance(message, PopMessage)
    assert message.call.request_kind == "complaint"
    assert message.call.request_category == "street_lighting"
    assert message.draft.category == "street_lighting"  # the form starts with it
    assert asked == [("complaint", "street_lighting", "zh")]  # before any transcript
    assert [s.id for s in message.suggestions] == ["street_lighting-1"]
    rec = tracker.get("pbx1-1763700000.1")
    assert rec is not None and rec.request_category == "street_lighting"
    pop.close()


# -- the service's registrations ----------------------------------------------------------------
def test_the_service_registers_its_steps_in_the_documented_order() -> None:
    class Stub:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: None

    stub: Any = Stub()  # the wiring's order is under test, not the features
    fanout = CallFanout()
    wire_call_flow(fanout, {}, desk=stub, live=stub, screenpop=stub, transcription=stub)
    assert fanout.order == ["agents", "supervision", "screenpop"]
    assert fanout.connected_order == ["calls: resync", "agents: reconcile", "supervision: refresh"]
    assert fanout.stored_order == ["transcription"]
    assert DESK_EVENTS == {"AgentComplete", "QueueMemberPause"}
    bare = CallFanout()
    wire_call_flow(bare, {}, desk=stub, live=stub, screenpop=stub, transcription=None)
    assert bare.stored_order == []


# -- the agent desk's agents, in memory -------------------------------------------------------
