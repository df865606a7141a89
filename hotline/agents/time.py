"""Agents' time for occupancy, kept as their state changes.

Each time an agent's state changes, the stretch of the state it leaves (ready, paused or
wrap-up) is closed and written twice: as segments cut at the UTC hours (``agent_segments``,
read for the partial hours at the edges of a range) and added to per-hour sums
(``agent_hours``, read for the whole hours), so a metrics query never replays history. A
wrap-up's seconds also go on the call it follows (``calls.wrapup_time``), for AHT.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, insert, select, update

from hotline.db.models import (
    AgentEventRow,
    AgentHourRow,
    AgentSegmentRow,
    CallHourMark,
    CallHourRow,
    CallRow,
)
from hotline.db.rollups import HOUR, bucket_of, invalidate_calls, upsert

log = logging.getLogger(__name__)

READY, PAUSED, WRAP_UP = "ready", "paused", "wrap_up"
WRAP_UP_REASON = "wrap-up"  # the pause reason of a managed wrap-up
_SECONDS_COLUMN = {READY: "ready_s", PAUSED: "paused_s", WRAP_UP: "wrap_up_s"}


def state_of(logged_in: bool, paused: bool, reason: str | None) -> str | None:
    """The state an agent is in (None: logged out)."""
    if not logged_in:
        return None
    if not paused:
        return READY
    return WRAP_UP if reason == WRAP_UP_REASON else PAUSED


@dataclass(frozen=True)
class Segment:
    """A stretch of one state of one agent inside one UTC hour."""

    agent_id: str
    extension: str | None
    state: str
    start: datetime
    end: datetime

    @property
    def bucket(self) -> int:
        return bucket_of(self.start)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def clip(self, since: datetime, until: datetime) -> Segment | None:
        start, end = max(self.start, since), min(self.end, until)
        if end <= start:
            return None
        return Segment(self.agent_id, self.extension, self.state, start, end)


def split_hours(
    agent_id: str, extension: str | None, state: str, start: datetime, end: datetime
) -> Iterator[Segment]:
    """[start, end) cut at the UTC hours."""
    t = start
    while t < end:
        edge = datetime.fromtimestamp((bucket_of(t) + 1) * HOUR, UTC)
        piece_end = min(end, edge)
        yield Segment(agent_id, extension, state, t, piece_end)
        t = piece_end


def write_segments(conn: Connection, segments: Sequence[Segment]) -> None:
    """Store closed segments and add them to the hour sums (in the caller's transaction)."""
    if not segments:
        return
    conn.execute(
        insert(AgentSegmentRow),
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
    t = AgentHourRow
    stmt = upsert(conn, t)
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


def add_wrapup(
    conn: Connection,
    *,
    call_id: str | None,
    extension: str | None,
    start: datetime,
    seconds: float,
) -> None:
    """Put a finished wrap-up on the call it follows: ``call_id`` when the service knows it,
    otherwise the extension's latest answered call that started before the wrap-up."""
    now = datetime.now(UTC)
    if call_id is None:
        if extension is None:
            return
        c = CallRow
        call_id = conn.scalar(
            select(c.call_id)
            .where(c.agent == extension, c.disposition == "answered", c.started_at <= start)
            .order_by(c.started_at.desc())
            .limit(1)
        )
        if call_id is None:
            log.warning("wrap-up of %.0f s on %s follows no stored call", seconds, extension)
            return
    t = CallRow
    stmt = upsert(conn, t)
    # A record still waiting in the recorder's queue gets a placeholder row that the record
    # fills in when it lands (its upsert leaves wrapup_time alone): no wrap-up is lost.
    conn.execute(
        stmt.values(
            call_id=call_id, started_at=start, wrapup_time=seconds, updated_at=now
        ).on_conflict_do_update(
            index_elements=["call_id"],
            set_={"wrapup_time": func.coalesce(t.wrapup_time, 0.0) + stmt.excluded.wrapup_time},
        )
    )
    started = conn.scalar(select(CallRow.started_at).where(CallRow.call_id == call_id))
    if started is not None:
        invalidate_calls(conn, [bucket_of(started)], now)


# -- rebuilding from the state history (migrations, bulk loads) -----------------------------------
def rebuild(engine: Engine, *, attribute_wrapups: bool, chunk: int = 20_000) -> int:
    """Recompute ``agent_segments`` and ``agent_hours`` from ``agent_events`` (and, when asked,
    every call's ``wrapup_time`` from the wrap-up pauses). For data written before these
    tables existed or loaded in bulk; the service keeps them itself. Returns segments written."""
    with engine.begin() as conn:
        return rebuild_on(conn, attribute_wrapups=attribute_wrapups, chunk=chunk)


def rebuild_on(conn: Connection, *, attribute_wrapups: bool, chunk: int = 20_000) -> int:
    """``rebuild`` in the caller's transaction (a migration's)."""
    e = AgentEventRow
    conn.execute(delete(AgentSegmentRow))
    conn.execute(delete(AgentHourRow))
    open_: dict[str, tuple[str, datetime, str | None]] = {}  # agent → (state, since, ext)
    wrapups: list[Segment] = []
    batch: list[Segment] = []
    written = 0
    rows = conn.execute(
        select(e.agent_id, e.event, e.reason, e.extension, e.at)
        .order_by(e.at, e.id)
        .execution_options(yield_per=chunk)
    )
    for agent_id, event, reason, extension, at in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        prev = open_.pop(agent_id, None)
        if prev is not None:
            state, since, ext = prev
            pieces = list(split_hours(agent_id, ext, state, since, at))
            batch.extend(pieces)
            if state == WRAP_UP and pieces:
                wrapups.append(Segment(agent_id, ext, WRAP_UP, since, at))
        new_state = _state_after(event, reason)
        if new_state is not None:
            open_[agent_id] = (new_state, at, extension)
        if len(batch) >= chunk:
            write_segments(conn, batch)
            written += len(batch)
            batch = []
    write_segments(conn, batch)
    written += len(batch)
    if attribute_wrapups:
        _attribute(conn, wrapups)
        # Every call's wrap-up may have moved: the hour sums are rebuilt when next needed.
        conn.execute(delete(CallHourRow))
        conn.execute(delete(CallHourMark))
    return written


def _state_after(event: str, reason: str | None) -> str | None:
    if event == "logout":
        return None
    if event == "pause":
        return WRAP_UP if reason == WRAP_UP_REASON else PAUSED
    return READY  # login, unpause


def _attribute(conn: Connection, wrapups: Iterable[Segment]) -> None:
    """Each wrap-up onto its extension's latest answered call started before it."""
    c = CallRow
    calls: dict[str, tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
    rows = conn.execute(
        select(c.agent, c.started_at, c.call_id)
        .where(c.disposition == "answered", c.agent.is_not(None))
        .order_by(c.started_at)
    )
    for agent, started, call_id in rows:
        starts, ids = calls[agent or ""]
        starts.append(started if started.tzinfo else started.replace(tzinfo=UTC))
        ids.append(call_id)
    total: dict[str, float] = defaultdict(float)
    for w in wrapups:
        if w.extension is None or w.extension not in calls:
            continue
        starts, ids = calls[w.extension]
        pos = bisect_right(starts, w.start)
        if pos:
            total[ids[pos - 1]] += w.seconds
    conn.execute(update(c).values(wrapup_time=None))
    if total:
        table = cast(Table, c.__table__)
        conn.execute(
            update(table)
            .where(table.c.call_id == bindparam("l"))
            .values(wrapup_time=bindparam("w")),
            [{"l": k, "w": v} for k, v in total.items()],
        )
