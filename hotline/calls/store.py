"""Reading and writing call records. Synchronous: callers on the event loop use a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Table, and_, case, func, select
from sqlalchemy.orm import sessionmaker

from hotline.db.models import CallRow
from hotline.db.rollups import bucket_of, invalidate_calls, upsert
from telephony.tracker import CallRecord, Disposition


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class CallSummary:
    """Headline figures over a set of calls (definitions: docs/operations.md)."""

    calls: int
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    asa: float | None  # seconds
    # seconds: (talk + hold + wrap-up) / answered, as the metrics and reports define it (talk
    # includes hold; a wrap-up counts once the agent's wrap-up has ended)
    aht: float | None
    service_level: float | None = None  # answered within T s / (offered - short abandons)


class CallStore:
    def __init__(self, engine: Engine, region_of: Callable[[str], str] | None = None) -> None:
        """``region_of``: caller number → region, stored with each record (out-of-town
        callers are counted by it)."""
        self._engine = engine
        self._region_of = region_of
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def save(self, rec: CallRecord) -> None:
        """Insert or update the row of ``rec.call_id`` (idempotent)."""
        self.save_many([rec])

    def save_many(self, records: list[CallRecord]) -> None:
        """Upsert several records in one transaction (the last one per call wins): one
        ``INSERT ... ON CONFLICT (call_id) DO UPDATE`` for the batch. A record that ends a
        call of an hour that is already over drops that hour's cached sums."""
        if not records:
            return
        now = datetime.now(UTC)
        values = [_values(rec, now) for rec in {r.call_id: r for r in records}.values()]
        if self._region_of is not None:
            for v in values:
                number = v["caller_number"]
                v["caller_region"] = self._region_of(number) if number else None
        with self._engine.begin() as conn:
            stmt = upsert(conn, _CALLS)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["call_id"],
                    set_={k: stmt.excluded[k] for k in _UPDATED},
                ),
                values,
            )
            ended = [bucket_of(v["started_at"]) for v in values if v["ended_at"] is not None]
            invalidate_calls(conn, ended, now)

    def find(
        self,
        *,
        caller_number: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        pbx: str | None = None,
    ) -> list[CallRow]:
        stmt = select(CallRow).order_by(CallRow.started_at.desc()).limit(limit)
        if caller_number is not None:
            stmt = stmt.where(CallRow.caller_number == caller_number)
        if pbx is not None:
            stmt = stmt.where(CallRow.pbx == pbx)
        if since is not None:
            stmt = stmt.where(CallRow.started_at >= since)
        with self._sessions() as session:
            return list(session.scalars(stmt))

    def in_progress(self, since: datetime, pbx: str | None = None) -> list[CallRecord]:
        """Records stored while their calls were in progress and never ended, updated since
        ``since``: what a process that stopped was tracking (a new active takes them over).
        ``pbx``: only that PBX's (each PBX has its own tracker)."""
        stmt = (
            select(CallRow)
            .where(CallRow.ended_at.is_(None), CallRow.updated_at >= since)
            .order_by(CallRow.started_at)
        )
        if pbx is not None:
            stmt = stmt.where(CallRow.pbx == pbx)
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(stmt)]

    def summary(
        self, since: datetime, short_abandon: float = 5.0, sl_seconds: float = 20.0
    ) -> CallSummary:
        """Headline figures since ``since`` in one SQL aggregate (the live view asks often)."""
        return self.summaries(since, short_abandon, sl_seconds)[0]

    def summaries(
        self, since: datetime, short_abandon: float = 5.0, sl_seconds: float = 20.0
    ) -> tuple[CallSummary, dict[str, CallSummary]]:
        """The headline figures since ``since`` in total and per PBX, in one SQL aggregate."""
        c = CallRow
        queued = c.queue_joined_at.is_not(None)
        answered = and_(queued, c.disposition == "answered")
        abandoned = and_(queued, c.disposition == "abandoned")
        wait = func.coalesce(c.queue_wait, 0.0)

        def count(cond: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

        stmt = select(
            c.pbx,
            func.count(),
            count(queued),
            count(answered),
            count(abandoned),
            count(and_(abandoned, wait < short_abandon)),
            func.sum(case((answered, c.queue_wait), else_=None)),
            func.count(case((and_(answered, c.queue_wait.is_not(None)), 1), else_=None)),
            func.sum(case((answered, c.talk_time), else_=None)),
            func.sum(case((answered, c.wrapup_time), else_=None)),
            count(and_(answered, c.queue_wait.is_not(None), c.queue_wait <= sl_seconds)),
        ).where(c.started_at >= since, c.ended_at.is_not(None))
        with self._sessions() as session:
            rows = [tuple(r) for r in session.execute(stmt.group_by(c.pbx))]
        total = [sum(r[i] or 0 for r in rows) for i in range(1, 11)]
        by_pbx = {str(r[0]): _summary(r[1:]) for r in rows if r[0] is not None}
        return _summary(tuple(total)), by_pbx


def _summary(sums: tuple[Any, ...]) -> CallSummary:
    calls, offered, n_ans, n_ab, short, wait_sum, wait_n, talk_sum, wrapup_sum, in_sl = sums
    base = offered - short
    return CallSummary(
        calls=calls,
        offered=offered,
        answered=n_ans,
        abandoned=n_ab,
        short_abandons=short,
        asa=wait_sum / wait_n if wait_n else None,
        # The metrics' AHT (hotline/metrics/formulas.py): over every answered call.
        aht=((talk_sum or 0.0) + (wrapup_sum or 0.0)) / n_ans if n_ans else None,
        service_level=in_sl / base if base > 0 else None,
    )


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _record(row: CallRow) -> CallRecord:
    """The tracker's record of a stored row (the inverse of ``_values``)."""
    answered_at = _ts(row.answered_at)
    return CallRecord(
        call_id=row.call_id,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        dialled_number=row.dialled_number,
        started_at=row.started_at.timestamp(),
        answered_at=answered_at,
        ended_at=_ts(row.ended_at),
        queue=row.queue,
        queue_joined_at=_ts(row.queue_joined_at),
        queue_left_at=answered_at,  # not stored; an answered call left its queue then
        agent=row.agent,
        agent_name=row.agent_name,
        queue_wait=row.queue_wait,
        ring_time=row.ring_time,
        talk_time=row.talk_time,
        ended_by=row.ended_by,
        disposition=Disposition(row.disposition) if row.disposition else None,
        hangup_cause=row.hangup_cause,
        recordings=dict(row.recordings or {}),
        ivr_path=list(row.ivr_path or []),
        ivr=row.ivr,
        language=row.language,
        request_kind=row.request_kind,
        request_category=row.request_category,
        variables=dict(row.variables or {}),
        resynced=row.resynced,
        pbx=row.pbx or "",
    )


def _values(rec: CallRecord, now: datetime) -> dict[str, Any]:
    return {
        "call_id": rec.call_id,
        "pbx": rec.pbx or None,
        "caller_number": rec.caller_number,
        "caller_name": rec.caller_name,
        "caller_region": None,
        "dialled_number": rec.dialled_number,
        "started_at": _dt(rec.started_at) or now,
        "answered_at": _dt(rec.answered_at),
        "ended_at": _dt(rec.ended_at),
        "queue": rec.queue,
        "queue_joined_at": _dt(rec.queue_joined_at),
        "agent": rec.agent,
        "agent_name": rec.agent_name,
        "queue_wait": rec.queue_wait,
        "ring_time": rec.ring_time,
        "talk_time": rec.talk_time,
        "ended_by": rec.ended_by,
        "disposition": rec.disposition.value if rec.disposition else None,
        "hangup_cause": rec.hangup_cause,
        "recordings": dict(rec.recordings),
        "ivr_path": list(rec.ivr_path),
        "ivr": rec.ivr,
        "language": rec.language,
        "request_kind": rec.request_kind,
        "request_category": rec.request_category,
        "variables": dict(rec.variables),
        "resynced": rec.resynced,
        "updated_at": now,
    }


_CALLS = cast(Table, CallRow.__table__)
# Every column a record sets; wrapup_time belongs to the agent desk (agent_time.add_wrapup).
_UPDATED = tuple(c.name for c in _CALLS.columns if c.name not in ("id", "call_id", "wrapup_time"))
