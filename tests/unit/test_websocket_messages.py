"""The WebSocket messages are typed and documented: the committed JSON Schema is what the models
give, each page handles every message type its socket sends and nothing else, the job's draft
crosses to the agent's page as the same JSON, and an agent's own state is pushed on change
without a moment of "available" between a call and its wrap-up."""

from __future__ import annotations

import asyncio
import json
import re
import typing
from pathlib import Path
from typing import Any, cast

import pytest

from drafting import DraftTaxonomy
from hotline.app import schemas as ws_schemas
from hotline.app.settings import Settings, load_settings
from hotline.screenpop.schemas import AGENT_MESSAGE, AgentMessage, CallDraft, StateMessage
from hotline.supervision import live as live_module
from hotline.supervision.live import LiveView
from hotline.supervision.schemas import LiveAgent, LiveMessage, LiveSnapshot, PbxToday
from telephony.queue_state import QueueBoard
from telephony.tracker import CallTracker
from tests.unit.test_draft import draft, taxonomy, turn  # noqa: F401 (taxonomy: a fixture)

ROOT = Path(__file__).resolve().parents[2]
AGENT_PAGE = ROOT / "hotline" / "screenpop" / "static" / "agent.html"
WALLBOARD = ROOT / "hotline" / "supervision" / "static" / "wallboard.html"


@pytest.fixture
def settings() -> Settings:
    """The shipped configuration (this tier starts no PBX)."""
    return load_settings(ROOT / "config" / "hotline.yaml")


def test_the_committed_schema_is_up_to_date() -> None:
    """docs/websocket.schema.json is generated: `python -m hotline.app.schemas` after a change."""
    assert ws_schemas.main(["--check"]) == 0, "run: python -m hotline.app.schemas"
    schema = json.loads(ws_schemas.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert set(schema["websockets"]) == {"/api/agent/ws", "/api/live/ws"}
    mapping = schema["$defs"]["AgentMessage"]["discriminator"]["mapping"]
    assert set(mapping) == message_types(AgentMessage)


def message_types(union: Any) -> set[str]:
    """The ``type`` literals of a message model or a discriminated union of them."""
    members = typing.get_args(typing.get_args(union)[0]) if hasattr(union, "__metadata__") else ()
    models = members or (union,)
    return {lit for m in models for lit in typing.get_args(m.model_fields["type"].annotation)}


def handled(page: Path) -> set[str]:
    """The message types a page's ``handle(m)`` dispatches on; the socket's messages all go
    there and nowhere else looks at a type."""
    text = page.read_text(encoding="utf-8")
    assert re.search(r"ws\.onmessage = \(e\) => handle\(JSON\.parse\(e\.data\)\);", text)
    body = re.search(r"\nfunction handle\(m\) \{\n(.*?)\n\}\n", text, re.S)
    assert body is not None, f"{page.name}: no handle(m)"
    outside = text.replace(body.group(0), "")
    assert not re.search(r"case \"|\.type ===", outside), f"{page.name}: types read elsewhere"
    return set(re.findall(r'case "([a-z_]+)":', body.group(1)))


def test_the_agent_page_handles_every_agent_message_and_nothing_else() -> None:
    assert message_types(AgentMessage) == {"pop", "draft", "done", "state"}
    assert handled(AGENT_PAGE) == message_types(AgentMessage)


def test_the_wallboard_handles_every_live_message_and_nothing_else() -> None:
    assert handled(WALLBOARD) == message_types(LiveMessage) == {"snapshot"}


def test_the_jobs_draft_reaches_the_page_as_the_same_json(taxonomy: DraftTaxonomy) -> None:  # noqa: F811
    found = draft(
        taxonomy,
        turn(
            "caller",
            "hello i want to report a broken street light | "
            "the street light on heping road has been broken for a week",
        ),
    )
    analysis = json.loads(json.dumps(found.as_dict()))  # as stored with the job
    fields = analysis["ticket_fields"]
    assert fields["category"] == "street_lighting" and "Heping Road" in fields["location"]
    before = CallDraft(
        call_id="pbx1-1.1", kind=None, category=None, caller_number="139", caller_language="en"
    )
    merged = CallDraft.model_validate(
        {**before.model_dump(), "suggested": fields, "analysis": analysis, "transcript": "x"}
    )
    sent = json.loads(
        AGENT_MESSAGE.dump_json(
            AGENT_MESSAGE.validate_python(
                {"type": "draft", "call_id": "pbx1-1.1", "draft": merged.model_dump()}
            )
        )
    )
    assert sent["draft"]["analysis"] == analysis
    assert sent["draft"]["suggested"] == fields
    assert sent["draft"]["location"] == ""  # suggestions never fill the draft's own fields


def test_the_live_snapshot_keeps_its_json() -> None:
    today = PbxToday(
        offered=1,
        answered=1,
        abandoned=0,
        short_abandons=0,
        service_level=None,
        service_level_seconds=20,
        asa=3.5,
    )
    snap = LiveSnapshot(now=1.5, pbxes=[], queues=[], agents=[], calls=[], today=today)
    body = json.loads(snap.model_dump_json())
    # Without surveys the panels' keys are absent, not null (the wallboard hides them).
    assert set(body) == {"now", "pbxes", "queues", "agents", "calls", "today", "masked"}
    assert body["today"]["service_level"] is None
    message = json.loads(LiveMessage.of(snap).model_dump_json())
    assert message == {**body, "type": "snapshot"}


def row(state: str, reason: str | None = None) -> LiveAgent:
    return LiveAgent(
        agent_id="a1",
        name="A",
        extension="2001",
        pbx="pbx1",
        state=cast(Any, state),
        reason=reason,
        no_answer=False,
        since=None,
        queues=[],
    )


async def test_an_agents_state_is_pushed_on_change_and_a_calls_end_settles_first(
    settings: Settings,
) -> None:
    clock = [100.0]
    view = LiveView(
        settings.live_config(),
        QueueBoard(),
        cast(Any, None),
        CallTracker(),
        cast(Any, None),
        monotonic=lambda: clock[0],
    )
    mine, other = view.watch_agent("a1"), view.watch_agent("a2")

    def sent() -> list[str]:
        out: list[str] = []
        while not mine.empty():
            out.append(StateMessage.of(mine.get_nowait()).state)
        return out

    view._push_agents([row("available")])
    view._push_agents([row("available")])  # unchanged: nothing
    view._push_agents([row("ringing")])
    view._push_agents([row("on_call")])
    assert sent() == ["available", "ringing", "on_call"]
    # The call ends: "available" waits; the wrap-up recorded meanwhile is what the page gets.
    view._push_agents([row("available")])
    assert sent() == []
    view._push_agents([row("wrap_up", "wrap-up")])
    assert sent() == ["wrap_up"]
    view._push_agents([row("available")])  # the wrap-up's end: at once
    assert sent() == ["available"]
    # A call that ends with no wrap-up: "available" once it stayed so for SETTLE seconds.
    view._push_agents([row("on_call")])
    view._push_agents([row("available")])
    clock[0] += live_module.SETTLE / 2
    view._push_agents([row("available")])
    assert sent() == ["on_call"]
    clock[0] += live_module.SETTLE
    view._push_agents([row("available")])
    assert sent() == ["available"]
    assert other.empty()  # another agent's page gets none of it
    view.unwatch_agent(mine)
    view._push_agents([row("paused", "meal")])
    assert mine.empty()
    await asyncio.sleep(0)
