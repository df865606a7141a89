"""Schema migrations on SQLite and PostgreSQL (both in every run): all of them on an empty
database give exactly the tables the code declares, each one downgrades and upgrades again,
and ``hotline db upgrade`` brings the run's database (HOTLINE_TEST_DB) to the head."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import hotline.db
from hotline.db.engine import alembic_config, make_engine, migrate
from hotline.db.models import Base
from testkit.support import NewDbUrl, shipped_config_with
from tests.integration.test_config import run_cli

# Every table module registers on Base.metadata when imported (the stores import them lazily).
for _module in pkgutil.iter_modules(hotline.db.__path__):
    importlib.import_module(f"hotline.db.{_module.name}")

# Objects the migrations make that the models do not declare, on purpose: the full-text
# search machinery of each database and two indexes of the agent history.
MIGRATION_ONLY = {
    "kb_fts", "kb_fts_data", "kb_fts_docsize", "kb_fts_idx", "kb_fts_config",  # SQLite FTS5
    "ix_kb_articles_search", "ix_kb_articles_trgm", "kb_articles.search",  # PostgreSQL
    "ix_agent_events_agent_at", "ix_agent_events_at",
}  # fmt: skip


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
