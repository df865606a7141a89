"""Engine creation and schema migrations (Alembic, from the first table on).

``hotline db upgrade``, the service (``run``, ``demo``) and the commands that set things up
migrate (``migrate``). Commands that only read (``hotline calls``, ``report``, ``agents
list``...) check the schema instead (``check_schema``): a database whose schema is missing or
behind is an error naming the command that migrates it, and the check neither writes nor logs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hotline.core.errors import DatabaseNotReady

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            # WAL: the web API reads while the recorder writes; NORMAL is durable enough with WAL.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

    return engine


def alembic_config(url: str) -> Config:
    # Alembic is imported only where it is used: importing it sets up its plugins, which says
    # so at INFO, and only the commands that migrate should say anything about Alembic.
    with _quiet_alembic():
        from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head", *, primary_pbx: str = "pbx1") -> None:
    """Bring the schema at ``url`` up to ``revision``. ``primary_pbx``: the name of the
    configured (primary) PBX, which call records from before several PBXes get (0011)."""
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(url)
    cfg.attributes["primary_pbx"] = primary_pbx
    command.upgrade(cfg, revision)


def schema_revisions(url: str) -> tuple[str | None, str]:
    """The schema revision of the database at ``url`` (None: no schema; also for a SQLite file
    that does not exist, which is not created) and the code's head. Writes nothing and keeps
    Alembic's INFO lines out of the output. ``DBAPIError``: the database is unreachable."""
    with _quiet_alembic():
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert head is not None
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:" and not Path(path).exists():
                return None, head
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision(), head
        finally:
            engine.dispose()


def check_schema(url: str) -> None:
    """Raise ``DatabaseNotReady`` unless the database at ``url`` is reachable and at the code's
    schema (read-only commands: they never migrate)."""
    where = make_url(url).render_as_string(hide_password=True)
    try:
        current, head = schema_revisions(url)
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise DatabaseNotReady(f"the database at {where} is not reachable ({reason})") from None
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady(
            f"the database at {where} has no schema yet: run `hotline db upgrade` first"
        )
    with _quiet_alembic():
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config(url))
    if current not in {r.revision for r in script.walk_revisions()}:
        raise DatabaseNotReady(
            f"the database at {where} is at schema {current}, which this version of hotline "
            f"does not know (its newest is {head}): use the hotline version that migrated it"
        )
    raise DatabaseNotReady(
        f"the database at {where} is at schema {current}, not {head}: "
        "run `hotline db upgrade` first"
    )


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs at INFO when it is first imported (its plugins) and whenever it looks at a
    database ("Context impl ...")."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
