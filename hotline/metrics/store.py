"""Reading what the metrics need from the store, fast: each group's figures are summed in SQL
from the per-hour sums of the whole hours of a range that are over, and only the partial and
current hours are read from the calls, so a query over a week reads a few hundred rows
whatever the traffic. Agents' time comes the same way from ``agent_hours``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from hotline.agents.time import PAUSED, READY, WRAP_UP, Segment, split_hours, state_of
from hotline.db.models import (
    AgentHourRow,
    AgentRow,
    AgentSegmentRow,
    CallHourMark,
    CallHourRow,
)
from hotline.db.rollups import (
    GRACE,
    HOUR,
    KEY_COLUMNS,
    SUM_COLUMNS,
    bucket_of,
    build,
    hour_start,
    marks,
    read_sums,
    sums_query,
)
from hotline.metrics.formulas import DIMENSION, CallSums

Piece = tuple[int, datetime, datetime]  # (UTC hour, start, end) with start..end inside the hour
_STATES = (READY, PAUSED, WRAP_UP)
_ATTEMPTS = 3  # reads of the hour sums before falling back to the calls (concurrent rebuilds)


def hour_pieces(since: datetime, until: datetime) -> list[Piece]:
    """[since, until) cut at the UTC hours."""
    out = []
    t = since
    while t < until:
        b = bucket_of(t)
        end = min(until, hour_start(b + 1))
        out.append((b, t, end))
        t = end
    return out


def _whole(piece: Piece) -> bool:
    b, start, end = piece
    return start == hour_start(b) and end == hour_start(b + 1)


@dataclass
class MetricsData:
    """What ``hotline.metrics.formulas`` computes the figures from."""

    groups: dict[str, list[CallSums]]  # group → sums keyed at least by its dimension
    agent_time: dict[str, list[float]]  # agent id → seconds [ready, paused, wrap-up]
    agent_talk: dict[str, float] = field(default_factory=dict)  # agent id → talk seconds


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(
        self,
        since: datetime,
        until: datetime,
        groups: Sequence[str],
        short_abandon: float,
        sl_seconds: float,
        now: datetime | None = None,
        *,
        pbx: str | None = None,
        extensions: set[str] | None = None,
    ) -> MetricsData:
        """Everything the metrics of [since, until) need, by ``groups``. ``pbx``: only that
        PBX's calls; ``extensions`` (its seats): only agents who sat at one of them."""
        now = now or datetime.now(UTC)
        pieces = hour_pieces(since, until)
        ready_by = now.timestamp() - GRACE
        closed = [p[0] for p in pieces if _whole(p) and (p[0] + 1) * HOUR <= ready_by]
        closed_set = set(closed)
        raw = [p for p in pieces if p[0] not in closed_set]
        dims = {DIMENSION[g] for g in groups} | {"agent"}  # by agent: the talk for occupancy
        with self._engine.connect() as conn:
            time, seats = _agent_time(conn, pieces, since, until, now)
            per_seat = _agents_per_seat(seats)
            shared = {ext for ext, agents in per_seat.items() if len(agents) > 1}
            only = {ext: next(iter(a)) for ext, a in per_seat.items() if len(a) == 1}
            whole = [p[0] for p in pieces if _whole(p)]
            if shared and whole:
                seats |= _hour_seats(conn, whole[0], whole[-1], shared)
            cached: dict[str | None, list[tuple[Any, ...]]] = {}
            shared_talk: list[tuple[int, str, float]] = []
            if closed:
                built, cached, shared_talk = self._cached(
                    conn, closed, dims, shared, short_abandon, sl_seconds, pbx
                )
                raw += [(b, hour_start(b), hour_start(b + 1)) for b in closed if b not in built]
            fresh = [
                CallSums._make(r)
                for b, start, end in raw
                for r in conn.execute(sums_query(b, start, end, short_abandon, sl_seconds, pbx))
            ]
        if extensions is not None:
            seated = {agent_id for _, agent_id, ext in seats if ext in extensions}
            time = {agent_id: t for agent_id, t in time.items() if agent_id in seated}
        data = MetricsData(
            groups={g: _keyed(cached.get(DIMENSION[g], []), DIMENSION[g]) + fresh for g in groups},
            agent_time=time,
        )
        data.agent_talk = _talk(seats, only, shared, cached.get("agent", []), shared_talk, fresh)
        if extensions is not None:
            data.agent_talk = {a: t for a, t in data.agent_talk.items() if a in time}
        return data

    def _cached(
        self,
        conn: Connection,
        closed: list[int],
        dims: set[str | None],
        shared: set[str],
        short: float,
        sl: float,
        pbx: str | None = None,
    ) -> tuple[set[int], dict[str | None, list[tuple[Any, ...]]], list[tuple[int, str, float]]]:
        """The built hours among ``closed`` and their sums per dimension (and per hour for
        seats several agents used). Hours not built yet are built first. The reads are
        repeated if a write dropped or rebuilt an hour while they ran."""
        lo, hi = closed[0], closed[-1]
        for _ in range(_ATTEMPTS):
            before = marks(conn, lo, hi, short, sl)
            missing = [b for b in closed if b not in before]
            if missing:
                with self._engine.begin() as writer:
                    build(writer, missing, short, sl)
                before = marks(conn, lo, hi, short, sl)
            sums = {d: read_sums(conn, lo, hi, short, sl, d, pbx) for d in dims}
            shared_talk = _shared_talk(conn, lo, hi, short, sl, shared, pbx)
            if marks(conn, lo, hi, short, sl) == before:
                return set(before), sums, shared_talk
        return set(), {}, []  # kept changing under us: sum every hour from the calls


def _keyed(rows: list[tuple[Any, ...]], dim: str | None) -> list[CallSums]:
    """(key, *sums) rows of one dimension → CallSums with that key set."""
    pos = CallSums._fields.index(dim) if dim else None
    out = []
    for key, *sums in rows:
        keys: list[Any] = [None] * len(KEY_COLUMNS)
        if pos is not None:
            keys[pos] = key
        out.append(CallSums(*keys, *sums))
    return out


# -- agents' time ---------------------------------------------------------------------------------
Seat = tuple[int, str, str | None]  # (UTC hour, agent id, extension)


def _agent_time(
    conn: Connection, pieces: list[Piece], since: datetime, until: datetime, now: datetime
) -> tuple[dict[str, list[float]], set[tuple[int | None, str, str | None]]]:
    """Seconds per agent and state in [since, until), and the seats: (hour or None for "some
    whole hour", agent, extension). Whole hours from ``agent_hours``, partial hours from
    their segments, and the stretch each agent is in now from its session."""
    time: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    seats: set[tuple[int | None, str, str | None]] = set()
    whole = [p[0] for p in pieces if _whole(p)]
    if whole:
        h = AgentHourRow
        rows = conn.execute(
            select(h.agent_id, func.sum(h.ready_s), func.sum(h.paused_s), func.sum(h.wrap_up_s))
            .where(h.bucket >= whole[0], h.bucket <= whole[-1])
            .group_by(h.agent_id)
        )
        for agent_id, *seconds in rows:
            time[agent_id] = [float(x or 0.0) for x in seconds]
        pairs = conn.execute(
            select(h.agent_id, h.extension)
            .distinct()
            .where(h.bucket >= whole[0], h.bucket <= whole[-1])
        )
        seats |= {(None, agent_id, ext) for agent_id, ext in pairs}
    segments = [s for p in pieces if not _whole(p) for s in _segments_in(conn, p[0])]
    segments += _open_segments(conn, now)
    for seg in segments:
        part = seg.clip(since, until)
        if part is not None:
            time[part.agent_id][_STATES.index(part.state)] += part.seconds
            seats.add((part.bucket, part.agent_id, part.extension))
    return dict(time), seats


def _hour_seats(
    conn: Connection, lo: int, hi: int, extensions: set[str]
) -> set[tuple[int | None, str, str | None]]:
    """Who was at these extensions, hour by hour, in whole hours lo..hi."""
    h = AgentHourRow
    stmt = select(h.bucket, h.agent_id, h.extension).where(
        h.bucket >= lo, h.bucket <= hi, h.extension.in_(sorted(extensions))
    )
    return {(b, agent_id, ext) for b, agent_id, ext in conn.execute(stmt)}


def _segments_in(conn: Connection, bucket: int) -> list[Segment]:
    s = AgentSegmentRow
    stmt = select(s.agent_id, s.extension, s.state, s.start, s.end).where(s.bucket == bucket)
    return [Segment(*r) for r in conn.execute(stmt)]


def _open_segments(conn: Connection, now: datetime) -> list[Segment]:
    """The stretch each logged-in agent is in now, cut at the hours."""
    a = AgentRow
    stmt = select(a.agent_id, a.logged_in_extension, a.paused, a.pause_reason, a.state_since).where(
        a.logged_in_extension.is_not(None), a.state_since.is_not(None)
    )
    out: list[Segment] = []
    for agent_id, ext, paused, reason, since in conn.execute(stmt):
        state = state_of(True, paused, reason)
        assert state is not None and since is not None
        out += split_hours(agent_id, ext, state, since, now)
    return out


def _agents_per_seat(
    seats: Iterable[tuple[int | None, str, str | None]],
) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for _, agent_id, ext in seats:
        if ext is not None:
            out[ext].add(agent_id)
    return out


def _shared_talk(
    conn: Connection,
    lo: int,
    hi: int,
    short: float,
    sl: float,
    shared: set[str],
    pbx: str | None = None,
) -> list[tuple[int, str, float]]:
    """Talk per hour at the extensions several agents used in the range (hot desks)."""
    if not shared:
        return []
    h, m = CallHourRow, CallHourMark
    stmt = (
        select(h.bucket, h.agent, func.sum(h.talk))
        .join(m, and_(m.bucket == h.bucket, m.short_abandon == short, m.service_level == sl))
        .where(h.bucket >= lo, h.bucket <= hi, h.agent.in_(sorted(shared)))
        .group_by(h.bucket, h.agent)
    )
    if pbx is not None:
        stmt = stmt.where(h.pbx == pbx)
    return [(b, ext or "", float(t or 0.0)) for b, ext, t in conn.execute(stmt)]


def _talk(
    seats: set[tuple[int | None, str, str | None]],
    only: dict[str, str],
    shared: set[str],
    by_extension: list[tuple[Any, ...]],
    shared_talk: list[tuple[int, str, float]],
    fresh: list[CallSums],
) -> dict[str, float]:
    """Talk per agent id: the calls answered at the extension it was logged in at. A seat
    one agent used in the whole range (``only``: extension → agent) gives it all its talk; a
    shared seat's talk goes hour
    by hour to whoever was logged in there (both, in the hour they handed over)."""
    at_hour: dict[tuple[int, str], set[str]] = defaultdict(set)
    for b, agent_id, ext in seats:
        if ext in shared and b is not None:
            at_hour[(b, ext)].add(agent_id)
    talk: dict[str, float] = defaultdict(float)

    def credit(bucket: int | None, ext: str | None, seconds: float) -> None:
        if ext in only:
            talk[only[ext]] += seconds
        elif ext is not None and bucket is not None:
            for agent_id in at_hour.get((bucket, ext), ()):
                talk[agent_id] += seconds

    for ext, *sums in by_extension:
        if ext not in shared:
            credit(None, ext, float(sums[SUM_COLUMNS.index("talk")] or 0.0))
    for b, ext, seconds in shared_talk:
        credit(b, ext, seconds)
    for r in fresh:
        credit(r.bucket, r.agent, r.talk)
    return dict(talk)
