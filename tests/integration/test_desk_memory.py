"""The agent desk keeps the agents in memory (loaded once at start) and is told of changes
instead of reading every agent from the database at each connection; on each database kind."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.agents.desk import AgentDesk
from hotline.agents.store import AgentStore
from hotline.db.engine import make_engine, migrate
from telephony.queue_state import QueueBoard
from telephony.settings import AgentEndpoint, PbxSettings
from testkit.support import NewDbUrl


async def test_the_desk_keeps_agents_in_memory_and_is_told_of_changes(db_url: NewDbUrl) -> None:
    url = db_url("desk")
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    try:
        store = AgentStore(engine)
        store.upsert("early", name="Early", extension="1001", roles=["agent"], skills={"zh": 3})
        store.set_session("early", event="login", extension="1001", paused=False, reason=None)
        seats = PbxSettings(
            agents=[AgentEndpoint(extension="1001"), AgentEndpoint(extension="1002")]
        )
        desk = AgentDesk([seats], store, None, QueueBoard())  # type: ignore[arg-type]
        await desk.load()
        pbx = seats.name
        assert getattr(desk.agent_at("1001", pbx), "agent_id", None) == "early"

        # From now on the database is not read to answer who sits where.
        def no_reads(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the database was read")

        all_agents = store.all
        store.all = no_reads  # type: ignore[method-assign]
        # A profile through the API or an import, then a login, a pause: the desk is told.
        await asyncio.to_thread(
            lambda: store.upsert("late", name="Late", extension="1002", roles=["agent"], skills={})
        )
        assert [a.agent_id for a in desk.agents] == ["early", "late"]
        await asyncio.to_thread(
            lambda: store.set_session(
                "late", event="login", extension="1002", paused=False, reason=None
            )
        )
        late = desk.agent_at("1002", pbx)
        assert late is not None and late.agent_id == "late" and not late.paused
        await asyncio.to_thread(
            lambda: store.set_session(
                "late", event="pause", extension="1002", paused=True, reason="break"
            )
        )
        paused = desk.agent_on("PJSIP/1002")
        assert paused is not None and paused.paused and paused.pause_reason == "break"
        await asyncio.to_thread(
            lambda: store.set_session(
                "early", event="logout", extension=None, paused=False, reason=None
            )
        )
        assert desk.agent_at("1001", pbx) is None
        assert desk.agent_at("1002", "another-pbx") is None
        # A change another process made (not told) is read at the next load (a reconcile).
        store.all = all_agents  # type: ignore[method-assign]
        other = AgentStore(engine)
        other.set_session("early", event="login", extension="1001", paused=False, reason=None)
        assert desk.agent_at("1001", pbx) is None
        await desk.load()
        assert getattr(desk.agent_at("1001", pbx), "agent_id", None) == "early"
        await asyncio.to_thread(
            lambda: store.set_session(
                "early", event="logout", extension=None, paused=False, reason=None
            )
        )
        assert desk.agent_at("1001", pbx) is None  # told once, not twice after a reload
    finally:
        engine.dispose()
