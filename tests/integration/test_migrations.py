"""Schema migrations on SQLite and PostgreSQL (both in every run): all of them on an empty
database give exactly the tables the code declares, each one downgrades and upgrades again,
the agent time 0005 rebuilds from the history before it is what the application's own rebuild
gives, and ``hotline db upgrade`` brings the run's database (HOTLINE_TEST_DB) to the head."""

from __future__ import annotations

import importlib
import pkgutil
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import hotline.db
from hotline.agents.time import rebuild
from hotline.db.engine import alembic_config, make_engine, migrate
from hotline.db.models import Base, UtcDateTime
from testkit.support import NewDbUrl, shipped_config_with
from tests.integration.test_config import run_cli

# Every table module registers on Base.metadata when imported (the stores import them lazily).
for _module in pkgutil.iter_modules(hotline.db.__path__):
    importlib.import_module(f"hotline.db.{_module.name}")

# Objects the migrations make that the models do not declare, on purpose: the full-text
# search machinery of each database and two indexes of the agent history.
MIGRATION_ONLY = {
    "kb_fts",
    "kb_fts_data",
    "kb_fts_docsize",
    "kb_fts_idx",
    "kb_fts_config",  # SQLite FTS5
    "ix_kb_articles_search",
    "ix_kb_articles_trgm",
    "kb_articles.search",  # PostgreSQL
    "ix_agent_events_agent_at",
    "ix_agent_events_at",
}


def revisions(url: str) -> list[tuple[str, str]]:
    """(revision, the one before it or "base"), oldest first."""
    script = ScriptDirectory.from_config(alembic_config(url))
    walked = list(script.walk_revisions())  # head first
    assert len(script.get_heads()) == 1, f"the migrations have several heads: {script.get_heads()}"
    return [(r.revision, str(r.down_revision or "base")) for r in reversed(walked)]


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def differences(engine: Engine) -> list[str]:
    """How the migrated schema differs from the models, migration-only objects left out."""

    def name(diff: Any) -> str:
        kind = diff[0]
        if kind.endswith(("_table", "_index")):
            return str(diff[1].name)
        if kind.endswith("_column"):
            return f"{diff[2]}.{diff[3].name}"
        return repr(diff)

    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Column changes come as a list of modifications of one column.
    flat = [d for item in found for d in (item if isinstance(item, list) else [item])]
    return [repr(d) for d in flat if not (isinstance(d, tuple) and name(d) in MIGRATION_ONLY)]


def tables(engine: Engine) -> set[str]:
    inspect(engine).clear_cache()
    return set(inspect(engine).get_table_names())


def test_all_migrations_on_an_empty_database_give_the_declared_schema(blank_url: str) -> None:
    migrate(blank_url)
    engine = make_engine(blank_url)
    try:
        assert current(engine) == revisions(blank_url)[-1][0]
        assert differences(engine) == []
        declared = set(Base.metadata.tables)
        assert declared <= tables(engine)
    finally:
        engine.dispose()


def test_each_migration_downgrades_and_upgrades_again(blank_url: str) -> None:
    engine = make_engine(blank_url)
    try:
        for revision, before in revisions(blank_url):
            migrate(blank_url, revision)
            made = tables(engine)
            command.downgrade(alembic_config(blank_url), before)
            assert current(engine) == (None if before == "base" else before)
            migrate(blank_url, revision)  # again, after its own downgrade
            assert current(engine) == revision
            assert tables(engine) == made, revision
        command.downgrade(
            alembic_config(blank_url), "base"
        )  # the whole way down leaves only Alembic's own table
        assert tables(engine) == {"alembic_version"}
        migrate(blank_url)
        assert differences(engine) == []
    finally:
        engine.dispose()


# -- 0005: the agents' time rebuilt from the state history written before it -------------------
# The tables as the application wrote them at 0004 (0001, 0003): the test's own copy, as the
# migration has its own.
_meta = sa.MetaData()
EVENTS_0004 = sa.Table(
    "agent_events",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("event", sa.String(16)),
    sa.Column("reason", sa.String(64)),
    sa.Column("extension", sa.String(16)),
    sa.Column("at", UtcDateTime),
)
CALLS_0004 = sa.Table(
    "calls",
    _meta,
    *[sa.Column(n, sa.String(64)) for n in ("linkedid", "caller_number", "caller_name")],
    sa.Column("dialled_number", sa.String(64)),
    *[sa.Column(n, UtcDateTime) for n in ("started_at", "answered_at", "ended_at")],
    sa.Column("queue", sa.String(64)),
    sa.Column("agent", sa.String(64)),
    sa.Column("talk_time", sa.Float),
    sa.Column("disposition", sa.String(16)),
    *[sa.Column(n, sa.JSON) for n in ("recordings", "ivr_path", "variables")],
    sa.Column("resynced", sa.Boolean),
    sa.Column("updated_at", UtcDateTime),
)
SEGMENTS = sa.table(
    "agent_segments",
    *[sa.column(n) for n in ("bucket", "agent_id", "extension", "state")],
    sa.column("start", UtcDateTime),
    sa.column("end", UtcDateTime),
)
HOURS = sa.table(
    "agent_hours",
    *[
        sa.column(n)
        for n in ("bucket", "agent_id", "extension", "ready_s", "paused_s", "wrap_up_s")
    ],
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
REASONS = ["wrap-up", "wrap-up", "lunch", "training", None]


def agent_history(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Agent events and calls as the service wrote them before 0005: several agents logging
    in and out (changing seats, one without an extension), breaks, wrap-ups (after a call,
    after an abandoned one, on a seat with no calls, without a seat), stretches of no time,
    on the hour, across hours and days; the times in Shanghai's zone, stored as UTC."""
    start = datetime(2026, 11, 16, 8, tzinfo=SHANGHAI)
    events: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for n in range(8):
        agent = f"ag{n}"
        seats = [None] if n == 7 else [f"20{n:02d}", f"30{n:02d}"]
        t, logged_in = start + timedelta(seconds=rng.randrange(3600)), False
        for _ in range(1600):
            roll = rng.random()
            step = (
                0
                if roll < 0.05
                else rng.uniform(1, 600)
                if roll < 0.45
                else rng.uniform(600, 5400)
                if roll < 0.85
                else rng.uniform(5400, 30000)
            )
            t += timedelta(seconds=round(step, 3))
            if rng.random() < 0.05:  # some on the hour
                t = t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            ext = rng.choice(seats)
            if not logged_in:
                event, reason, logged_in = "login", None, True
            else:
                event = rng.choice(["pause", "pause", "unpause", "unpause", "logout"])
                reason = rng.choice(REASONS) if event == "pause" else None
                logged_in = event != "logout"
            events.append(
                {"agent_id": agent, "event": event, "reason": reason, "extension": ext, "at": t}
            )
            if n != 5 and ext is not None and event == "pause" and rng.random() < 0.7:
                # The call this pause follows (answered, now and then abandoned or no agent).
                began = t - timedelta(seconds=rng.uniform(5, 900))
                kind = rng.random()
                calls.append(
                    {
                        "linkedid": f"{agent}-{len(calls)}",
                        "caller_number": "13900000000",
                        "caller_name": "",
                        "dialled_number": "12345",
                        "started_at": began,
                        "answered_at": began if kind < 0.9 else None,
                        "ended_at": t,
                        "queue": "operator",
                        "agent": None if kind > 0.95 else ext,
                        "talk_time": (t - began).total_seconds(),
                        "disposition": "answered" if kind < 0.9 else "abandoned",
                        "recordings": {},
                        "ivr_path": [],
                        "variables": {},
                        "resynced": False,
                        "updated_at": t,
                    }
                )
    return events, calls


def agent_time(
    engine: Engine, call_id: str = "linkedid"
) -> tuple[list[Any], list[Any], dict[str, float | None]]:
    """The segments and hour sums (sorted) and each call's wrap-up, exactly as stored;
    ``call_id``: the name of the calls' id column (``linkedid`` until 0013)."""
    s, h = SEGMENTS.c, HOURS.c

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple("" if v is None else v for v in row)

    with engine.connect() as conn:
        segments = sorted(
            (
                tuple(r)
                for r in conn.execute(
                    sa.select(s.bucket, s.agent_id, s.extension, s.state, s.start, s.end)
                )
            ),
            key=key,
        )
        hours = sorted(
            (
                tuple(r)
                for r in conn.execute(
                    sa.select(h.bucket, h.agent_id, h.extension, h.ready_s, h.paused_s, h.wrap_up_s)
                )
            ),
            key=key,
        )
        calls = sa.table("calls", sa.column(call_id), sa.column("wrapup_time"))
        # A comprehension: dict() would take the result for a mapping (it has keys()).
        rows = conn.execute(sa.select(calls.c[call_id], calls.c.wrapup_time))
        wrapups = {k: v for k, v in rows}
    return segments, hours, wrapups


def test_0005_rebuilds_the_agents_time_as_the_application_does(blank_url: str) -> None:
    """0005 carries its own frozen copy of the rebuild (no application import): on a history
    written at 0004 it gives the segments, hour sums and wrap-ups the application's
    ``hotline.agents.time.rebuild`` gives on the same history."""
    migrate(blank_url, "0004")
    engine = make_engine(blank_url)
    try:
        events, calls = agent_history(random.Random(17))
        with engine.begin() as conn:
            conn.execute(sa.insert(EVENTS_0004), events)
            conn.execute(sa.insert(CALLS_0004), calls)
        migrate(blank_url, "0005")
        migrated = agent_time(engine)
        segments, hours, wrapups = migrated
        assert len(segments) > 20_000  # more than one of the rebuild's batches
        assert {r[3] for r in segments} == {"ready", "paused", "wrap_up"}
        assert {r[2] for r in segments} >= {None, "2006", "3006"}
        with_wrapup = [v for v in wrapups.values() if v is not None]
        assert len(with_wrapup) > 100 and len(with_wrapup) < len(wrapups)
        # Wrap-ups on no seat or a seat without calls go on no call.
        assert 0 < sum(with_wrapup) < sum(r[5] for r in hours)

        migrate(blank_url)  # to the head, where the application's own rebuild runs
        rebuild(engine, attribute_wrapups=True)
        assert agent_time(engine, "call_id") == migrated
    finally:
        engine.dispose()


def test_db_upgrade_command_on_the_runs_database(tmp_path: Path, db_url: NewDbUrl) -> None:
    url = db_url("cli")
    cfg = tmp_path / "hotline.yaml"
    cfg.write_text(shipped_config_with(url), encoding="utf-8")
    for _ in range(2):  # the second run finds nothing to do
        r = run_cli("-c", str(cfg), "db", "upgrade")
        assert r.returncode == 0, r.stderr
        assert "schema up to date" in r.stdout
    engine = make_engine(url)
    try:
        assert current(engine) == revisions(url)[-1][0]
    finally:
        engine.dispose()
