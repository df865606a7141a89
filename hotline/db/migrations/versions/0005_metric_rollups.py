"""metric roll-ups: per-hour call sums, agent time segments and hour sums, wrap-up per call

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("wrapup_time", sa.Float))
        batch.create_index("ix_calls_agent_started", ["agent", "started_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("wrapup_call", sa.String(64)))
    op.create_table(
        "call_hours",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("queue", sa.String(64)),
        sa.Column("agent", sa.String(64)),
        sa.Column("language", sa.String(8)),
        sa.Column("kind", sa.String(32)),
        *[
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("offered", "answered", "abandoned", "short_abandons", "answered_in_sl")
        ],
        *[
            sa.Column(name, sa.Float, nullable=False)
            for name in ("wait_answered", "talk", "wrapup")
        ],
    )
    op.create_index("ix_call_hours_bucket", "call_hours", ["bucket"])
    op.create_table(
        "call_hour_marks",
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("short_abandon", sa.Float, nullable=False),
        sa.Column("service_level", sa.Float, nullable=False),
        sa.Column("build", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "agent_segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(16)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start", ts, nullable=False),
        sa.Column("end", ts, nullable=False),
    )
    op.create_index("ix_agent_segments_bucket", "agent_segments", ["bucket"])
    op.create_table(
        "agent_hours",
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(16)),
        sa.Column("ready_s", sa.Float, nullable=False),
        sa.Column("paused_s", sa.Float, nullable=False),
        sa.Column("wrap_up_s", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("bucket", "agent_id"),
    )
    # The history written before these tables existed.
    _rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("agent_hours")
    op.drop_table("agent_segments")
    op.drop_table("call_hour_marks")
    op.drop_table("call_hours")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("wrapup_call")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_agent_started")
        batch.drop_column("wrapup_time")


# -- the rebuild of the agents' time from their state history, frozen as of this revision ---------
# A copy of what hotline.agents.time.rebuild_on(conn, attribute_wrapups=True) and the helpers it
# used (hotline.db.rollups) did when this migration was written, on the tables as they are at
# this revision. A migration imports no application code: later changes to the application or
# its models must never change what this migration does.
_HOUR = 3600
_CHUNK = 20_000
_READY, _PAUSED, _WRAP_UP = "ready", "paused", "wrap_up"
_WRAP_UP_REASON = "wrap-up"  # the pause reason of a managed wrap-up
_SECONDS_COLUMN = {_READY: "ready_s", _PAUSED: "paused_s", _WRAP_UP: "wrap_up_s"}


class _UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (the application's column type then)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The columns the rebuild reads and writes, as they are at this revision (0001, 0003, above).
_meta = sa.MetaData()
_agent_events = sa.Table(
    "agent_events",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("extension", sa.String(16)),
    sa.Column("at", _UtcDateTime, nullable=False),
)
_calls = sa.Table(
    "calls",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("linkedid", sa.String(64), nullable=False),
    sa.Column("started_at", _UtcDateTime, nullable=False),
    sa.Column("agent", sa.String(64)),
    sa.Column("disposition", sa.String(16)),
    sa.Column("wrapup_time", sa.Float),
)
_agent_segments = sa.Table(
    "agent_segments",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("bucket", sa.BigInteger, nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("extension", sa.String(16)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("start", _UtcDateTime, nullable=False),
    sa.Column("end", _UtcDateTime, nullable=False),
)
_agent_hours = sa.Table(
    "agent_hours",
    _meta,
    sa.Column("bucket", sa.BigInteger, nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("extension", sa.String(16)),
    sa.Column("ready_s", sa.Float, nullable=False),
    sa.Column("paused_s", sa.Float, nullable=False),
    sa.Column("wrap_up_s", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("bucket", "agent_id"),
)
_call_hours = sa.table("call_hours")
_call_hour_marks = sa.table("call_hour_marks")


def _bucket_of(t: datetime) -> int:
    """The UTC hour ``t`` falls in, in hours since the epoch."""
    return int(t.timestamp() // _HOUR)


class _Segment(NamedTuple):
    """A stretch of one state of one agent (inside one UTC hour, once split). A named tuple,
    not a dataclass: Alembic loads a migration without registering it in ``sys.modules``."""

    agent_id: str
    extension: str | None
    state: str
    start: datetime
    end: datetime

    @property
    def bucket(self) -> int:
        return _bucket_of(self.start)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _split_hours(
    agent_id: str, extension: str | None, state: str, start: datetime, end: datetime
) -> Iterator[_Segment]:
    """[start, end) cut at the UTC hours."""
    t = start
    while t < end:
        edge = datetime.fromtimestamp((_bucket_of(t) + 1) * _HOUR, UTC)
        piece_end = min(end, edge)
        yield _Segment(agent_id, extension, state, t, piece_end)
        t = piece_end


def _upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT`` for the connection's dialect (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _write_segments(conn: sa.Connection, segments: Sequence[_Segment]) -> None:
    """Store segments and add them to the hour sums."""
    if not segments:
        return
    conn.execute(
        sa.insert(_agent_segments),
        [
            {
                "bucket": s.bucket,
                "agent_id": s.agent_id,
                "extension": s.extension,
                "state": s.state,
                "start": s.start,
                "end": s.end,
            }
            for s in segments
        ],
    )
    sums: dict[tuple[int, str], dict[str, float | str | None]] = {}
    for s in segments:
        row = sums.setdefault(
            (s.bucket, s.agent_id),
            {"extension": s.extension, "ready_s": 0.0, "paused_s": 0.0, "wrap_up_s": 0.0},
        )
        row["extension"] = s.extension
        col = _SECONDS_COLUMN[s.state]
        row[col] = float(row[col] or 0.0) + s.seconds
    t = _agent_hours.c
    stmt = _upsert(conn, _agent_hours)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["bucket", "agent_id"],
            set_={
                "extension": stmt.excluded.extension,
                "ready_s": t.ready_s + stmt.excluded.ready_s,
                "paused_s": t.paused_s + stmt.excluded.paused_s,
                "wrap_up_s": t.wrap_up_s + stmt.excluded.wrap_up_s,
            },
        ),
        [{"bucket": b, "agent_id": a, **v} for (b, a), v in sums.items()],
    )


def _state_after(event: str, reason: str | None) -> str | None:
    if event == "logout":
        return None
    if event == "pause":
        return _WRAP_UP if reason == _WRAP_UP_REASON else _PAUSED
    return _READY  # login, unpause


def _rebuild(conn: sa.Connection) -> None:
    """``agent_segments`` and ``agent_hours`` from ``agent_events``, every call's
    ``wrapup_time`` from the wrap-up pauses; the call hour sums dropped (rebuilt when needed)."""
    e = _agent_events.c
    conn.execute(sa.delete(_agent_segments))
    conn.execute(sa.delete(_agent_hours))
    open_: dict[str, tuple[str, datetime, str | None]] = {}  # agent → (state, since, ext)
    wrapups: list[_Segment] = []
    batch: list[_Segment] = []
    rows = conn.execute(
        sa.select(e.agent_id, e.event, e.reason, e.extension, e.at)
        .order_by(e.at, e.id)
        .execution_options(yield_per=_CHUNK)
    )
    for agent_id, event, reason, extension, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        prev = open_.pop(agent_id, None)
        if prev is not None:
            state, since, ext = prev
            pieces = list(_split_hours(agent_id, ext, state, since, at))
            batch.extend(pieces)
            if state == _WRAP_UP and pieces:
                wrapups.append(_Segment(agent_id, ext, _WRAP_UP, since, at))
        new_state = _state_after(event, reason)
        if new_state is not None:
            open_[agent_id] = (new_state, at, extension)
        if len(batch) >= _CHUNK:
            _write_segments(conn, batch)
            batch = []
    _write_segments(conn, batch)
    _attribute(conn, wrapups)
    # Every call's wrap-up may have moved: the hour sums are rebuilt when next needed.
    conn.execute(sa.delete(_call_hours))
    conn.execute(sa.delete(_call_hour_marks))


def _attribute(conn: sa.Connection, wrapups: Sequence[_Segment]) -> None:
    """Each wrap-up onto its extension's latest answered call started before it."""
    c = _calls.c
    calls: dict[str, tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
    rows = conn.execute(
        sa.select(c.agent, c.started_at, c.linkedid)
        .where(c.disposition == "answered", c.agent.is_not(None))
        .order_by(c.started_at)
    )
    for agent, started, linkedid in rows:
        starts, ids = calls[agent or ""]
        starts.append(started if started.tzinfo else started.replace(tzinfo=UTC))
        ids.append(linkedid)
    total: dict[str, float] = defaultdict(float)
    for w in wrapups:
        if w.extension is None or w.extension not in calls:
            continue
        starts, ids = calls[w.extension]
        pos = bisect_right(starts, w.start)
        if pos:
            total[ids[pos - 1]] += w.seconds
    conn.execute(sa.update(_calls).values(wrapup_time=None))
    if total:
        conn.execute(
            sa.update(_calls)
            .where(c.linkedid == sa.bindparam("l"))
            .values(wrapup_time=sa.bindparam("w")),
            [{"l": k, "w": v} for k, v in total.items()],
        )
