"""Per-hour call sums (``call_hours``), so a metrics query over days reads hundreds of rows
instead of every call.

An hour's sums are built from ``calls`` the first time a query needs them once the hour is
over (plus ``GRACE``), and marked built with the thresholds they used. A write that changes
a call of an hour that is over (a long call ending, a wrap-up landing, a record delayed by a
database outage) drops that hour's sums, so the next query rebuilds them: the sums are a cache
of ``calls``, never a second truth. On PostgreSQL an advisory lock orders a build against such
a drop; SQLite has one writer at a time anyway. Each build has an id, so a reader can tell
that the hours it read were not dropped or rebuilt while it read them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from hotline.db.models import CallHourMark, CallHourRow, CallRow

HOUR = 3600
GRACE = 300.0  # seconds after an hour ends before its sums are built: late writes settle
_LOCK = 0x686C_6368  # pg_advisory_xact_lock key for building and dropping call_hours
SUM_COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "answered_in_sl",
    "wait_answered",
    "talk",
    "wrapup",
)
KEY_COLUMNS = ("bucket", "queue", "agent", "language", "kind", "region", "pbx")


def bucket_of(t: datetime) -> int:
    """The UTC hour ``t`` falls in, in hours since the epoch."""
    return int(t.timestamp() // HOUR)


def hour_start(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * HOUR, UTC)


def upsert(conn: Connection, table: Any) -> Any:
    """``INSERT ... ON CONFLICT`` for the connection's dialect (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})


def invalidate_calls(conn: Connection, buckets: Iterable[int], now: datetime) -> None:
    """Drop the sums of the hours among ``buckets`` that are over (in the writer's
    transaction, so the drop and the change it follows commit together)."""
    over = sorted({b for b in buckets if (b + 1) * HOUR <= now.timestamp()})
    if not over:
        return
    _lock(conn)
    conn.execute(delete(CallHourRow).where(CallHourRow.bucket.in_(over)))
    conn.execute(delete(CallHourMark).where(CallHourMark.bucket.in_(over)))


def sums_query(
    bucket: int, start: datetime, end: datetime, short: float, sl: float, pbx: str | None = None
) -> Select[Any]:
    """The sums of the ended, queued calls that started in [start, end) (inside ``bucket``),
    per queue, agent, language, kind, region and PBX: the shape of ``call_hours``. ``pbx``:
    only that PBX's calls."""
    c = CallRow
    answered = c.disposition == "answered"
    abandoned = c.disposition == "abandoned"
    wait = func.coalesce(c.queue_wait, 0.0)

    def count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((cond, 1), else_=0))

    def total(value: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Any]:
        return func.sum(case((answered, func.coalesce(value, 0.0)), else_=0.0))

    stmt: Select[Any] = (
        select(
            literal(bucket, BigInteger).label("bucket"),
            c.queue,
            c.agent,
            c.language,
            c.request_kind.label("kind"),
            c.caller_region.label("region"),
            c.pbx,
            func.count().label("offered"),
            count(answered).label("answered"),
            count(abandoned).label("abandoned"),
            count(and_(abandoned, wait < short)).label("short_abandons"),
            count(and_(answered, wait <= sl)).label("answered_in_sl"),
            total(c.queue_wait).label("wait_answered"),
            total(c.talk_time).label("talk"),
            total(c.wrapup_time).label("wrapup"),
        )
        .where(
            c.started_at >= start,
            c.started_at < end,
            c.ended_at.is_not(None),
            c.queue_joined_at.is_not(None),
        )
        .group_by(c.queue, c.agent, c.language, c.request_kind, c.caller_region, c.pbx)
    )
    if pbx is not None:
        stmt = stmt.where(c.pbx == pbx)
    return stmt


def build(conn: Connection, buckets: Sequence[int], short: float, sl: float) -> None:
    """(Re)build the sums of whole hours, in the caller's transaction."""
    if not buckets:
        return
    _lock(conn)
    for chunk in _chunks(sorted(set(buckets)), 500):
        conn.execute(delete(CallHourRow).where(CallHourRow.bucket.in_(chunk)))
        conn.execute(delete(CallHourMark).where(CallHourMark.bucket.in_(chunk)))
    for b in buckets:
        q = sums_query(b, hour_start(b), hour_start(b + 1), short, sl)
        conn.execute(insert(CallHourRow).from_select([*KEY_COLUMNS, *SUM_COLUMNS], q))
    build_id = secrets.randbits(62)
    conn.execute(
        insert(CallHourMark),
        [
            {"bucket": b, "short_abandon": short, "service_level": sl, "build": build_id}
            for b in buckets
        ],
    )


def marks(conn: Connection, lo: int, hi: int, short: float, sl: float) -> dict[int, int]:
    """The hours lo..hi (inclusive) built with these thresholds → the id of their build."""
    m = CallHourMark
    stmt = select(m.bucket, m.build).where(
        m.bucket >= lo, m.bucket <= hi, m.short_abandon == short, m.service_level == sl
    )
    return {b: build for b, build in conn.execute(stmt)}


_DIMENSION = {
    "bucket": CallHourRow.bucket,
    "queue": CallHourRow.queue,
    "agent": CallHourRow.agent,
    "language": CallHourRow.language,
    "kind": CallHourRow.kind,
    "region": CallHourRow.region,
    "pbx": CallHourRow.pbx,
}


def read_sums(
    conn: Connection,
    lo: int,
    hi: int,
    short: float,
    sl: float,
    by: str | None,
    pbx: str | None = None,
) -> list[tuple[Any, ...]]:
    """The built sums of hours lo..hi added up per ``by`` (a ``call_hours`` key column, or
    None for one total): (key, *SUM_COLUMNS) rows. Only rows of built hours count.
    ``pbx``: only that PBX's calls."""
    h, m = CallHourRow, CallHourMark
    key = [_DIMENSION[by]] if by else []
    stmt = (
        select(*key, *[func.sum(getattr(h, s)) for s in SUM_COLUMNS])
        .select_from(h)
        .join(
            m,
            and_(m.bucket == h.bucket, m.short_abandon == short, m.service_level == sl),
        )
        .where(h.bucket >= lo, h.bucket <= hi)
    )
    if pbx is not None:
        stmt = stmt.where(h.pbx == pbx)
    if key:
        stmt = stmt.group_by(*key)
    rows = [tuple(r) if key else (None, *r) for r in conn.execute(stmt)]
    return [r for r in rows if r[1] is not None]  # a total over no rows is all NULL


def _chunks(items: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
