"""Reading what the metrics need from the store, fast: plain column tuples over an indexed
time range (``ix_calls_started_at``), no ORM objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from hotline.metrics import AgentInterval, CallFacts, intervals
from hotline.store.models import AgentEventRow, CallRow


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def calls(self, since: datetime, until: datetime) -> list[CallFacts]:
        c = CallRow
        stmt = select(
            c.started_at, c.queue, c.agent, c.language, c.request_kind, c.disposition,
            c.queue_joined_at, c.queue_wait, c.talk_time,
        ).where(c.started_at >= since, c.started_at < until, c.ended_at.is_not(None))  # fmt: skip
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            CallFacts(
                started_at=_utc(r[0]),
                queue=r[1],
                agent=r[2],
                language=r[3],
                kind=r[4],
                disposition=r[5],
                queued=r[6] is not None,
                queue_wait=r[7],
                talk_time=r[8],
            )
            for r in rows
        ]

    def agent_spans(
        self, since: datetime, until: datetime
    ) -> tuple[list[AgentInterval], dict[str, str]]:
        """Agents' logged-in, paused and wrap-up intervals clipped to [since, until), and each
        agent's extension. History starts a day early so a shift that began before ``since``
        is counted from ``since``."""
        e = AgentEventRow
        stmt = (
            select(e.agent_id, e.event, e.reason, e.at, e.extension)
            .where(e.at >= since - timedelta(days=1), e.at < until)
            .order_by(e.at, e.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        extension = {r[0]: r[4] for r in rows if r[4]}
        spans = []
        for s in intervals(((r[0], r[1], r[2], _utc(r[3])) for r in rows), until):
            start, end = max(s.start, since), min(s.end, until)
            if end > start:
                spans.append(AgentInterval(s.agent_id, s.kind, start, end))
        return spans, extension


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
