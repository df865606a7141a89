"""Reading and writing call records. Synchronous: callers on the event loop use a thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Engine, and_, case, func, select
from sqlalchemy.orm import sessionmaker

from hotline.store.models import CallRow
from telephony.calls import CallRecord


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class CallSummary:
    """Headline figures over a set of calls (definitions: shared/design/architecture.md)."""

    calls: int
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    asa: float | None  # seconds
    aht: float | None  # seconds (talk only until hold and wrap-up are tracked)
    service_level: float | None = None  # answered within T s / (offered - short abandons)


class CallStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def save(self, rec: CallRecord) -> None:
        """Insert or update the row of ``rec.linkedid`` (idempotent)."""
        self.save_many([rec])

    def save_many(self, records: list[CallRecord]) -> None:
        """Upsert several records in one transaction (the last one per call wins)."""
        latest = {r.linkedid: r for r in records}
        with self._sessions.begin() as session:
            rows = {
                row.linkedid: row
                for row in session.scalars(select(CallRow).where(CallRow.linkedid.in_(latest)))
            }
            for linkedid, rec in latest.items():
                row = rows.get(linkedid)
                if row is None:
                    row = CallRow(linkedid=linkedid)
                    session.add(row)
                _copy(rec, row)

    def find(
        self, *, caller_number: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[CallRow]:
        stmt = select(CallRow).order_by(CallRow.started_at.desc()).limit(limit)
        if caller_number is not None:
            stmt = stmt.where(CallRow.caller_number == caller_number)
        if since is not None:
            stmt = stmt.where(CallRow.started_at >= since)
        with self._sessions() as session:
            return list(session.scalars(stmt))

    def summary(
        self, since: datetime, short_abandon: float = 5.0, sl_seconds: float = 20.0
    ) -> CallSummary:
        """Headline figures since ``since`` in one SQL aggregate (the live view asks often)."""
        c = CallRow
        queued = c.queue_joined_at.is_not(None)
        answered = and_(queued, c.disposition == "answered")
        abandoned = and_(queued, c.disposition == "abandoned")
        wait = func.coalesce(c.queue_wait, 0.0)

        def count(cond: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

        stmt = select(
            func.count(),
            count(queued),
            count(answered),
            count(abandoned),
            count(and_(abandoned, wait < short_abandon)),
            func.sum(case((answered, c.queue_wait), else_=None)),
            func.count(case((and_(answered, c.queue_wait.is_not(None)), 1), else_=None)),
            func.sum(case((answered, c.talk_time), else_=None)),
            func.count(case((and_(answered, c.talk_time.is_not(None)), 1), else_=None)),
            count(and_(answered, c.queue_wait.is_not(None), c.queue_wait <= sl_seconds)),
        ).where(c.started_at >= since, c.ended_at.is_not(None))
        with self._sessions() as session:
            row = session.execute(stmt).one()
        calls, offered, n_ans, n_ab, short, wait_sum, wait_n, talk_sum, talk_n, in_sl = row
        base = offered - short
        return CallSummary(
            calls=calls,
            offered=offered,
            answered=n_ans,
            abandoned=n_ab,
            short_abandons=short,
            asa=wait_sum / wait_n if wait_n else None,
            aht=talk_sum / talk_n if talk_n else None,
            service_level=in_sl / base if base > 0 else None,
        )


def _copy(rec: CallRecord, row: CallRow) -> None:
    row.caller_number = rec.caller_number
    row.caller_name = rec.caller_name
    row.dialled_number = rec.dialled_number
    row.started_at = _dt(rec.started_at) or datetime.now(UTC)
    row.answered_at = _dt(rec.answered_at)
    row.ended_at = _dt(rec.ended_at)
    row.queue = rec.queue
    row.queue_joined_at = _dt(rec.queue_joined_at)
    row.agent = rec.agent
    row.agent_name = rec.agent_name
    row.queue_wait = rec.queue_wait
    row.ring_time = rec.ring_time
    row.talk_time = rec.talk_time
    row.ended_by = rec.ended_by
    row.disposition = rec.disposition.value if rec.disposition else None
    row.hangup_cause = rec.hangup_cause
    row.recordings = dict(rec.recordings)
    row.ivr_path = list(rec.ivr_path)
    row.ivr = rec.ivr
    row.language = rec.language
    row.request_kind = rec.request_kind
    row.variables = dict(rec.variables)
    row.resynced = rec.resynced
    row.updated_at = datetime.now(UTC)
