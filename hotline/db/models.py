"""Database tables (SQLAlchemy 2). Every change to them goes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CallRow(Base):
    """One call, from the PBX's first channel to the last hangup."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The call's global id: "<pbx>-<Asterisk Linkedid>" (telephony.tracker.global_call_id), unique
    # across PBXes; tickets, transcription jobs and surveys refer to calls by it.
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The PBX the call came through (its name in the config). Null only on a placeholder row
    # a wrap-up wrote before the record itself.
    pbx: Mapped[str | None] = mapped_column(String(40))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    # Where the number is from (config callers.regions), set when the record is written.
    caller_region: Mapped[str | None] = mapped_column(String(64))
    dialled_number: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queue: Mapped[str | None] = mapped_column(String(64))
    queue_joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    agent: Mapped[str | None] = mapped_column(String(64))
    agent_name: Mapped[str | None] = mapped_column(String(128))
    queue_wait: Mapped[float | None] = mapped_column(Float)
    ring_time: Mapped[float | None] = mapped_column(Float)
    talk_time: Mapped[float | None] = mapped_column(Float)
    ended_by: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    recordings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    ivr_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    ivr: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    request_kind: Mapped[str | None] = mapped_column(String(32))
    # The category chosen at an IVR category level (a key of draft.categories), if any.
    request_category: Mapped[str | None] = mapped_column(String(40))
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    resynced: Mapped[bool] = mapped_column(default=False)
    # The agent's wrap-up after this call, written when the wrap-up ends (not by the tracker).
    wrapup_time: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_agent_started", "agent", "started_at"),
        Index("ix_calls_caller_number", "caller_number"),
        Index("ix_calls_queue_started", "queue", "started_at"),
        Index("ix_calls_pbx_started", "pbx", "started_at"),
    )


class TicketRow(Base):
    """A 12345 ticket (work order); its lifecycle rules are in ``hotline/tickets/``."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the number callers key in
    status: Mapped[str] = mapped_column(String(16), default="draft")
    kind: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    caller_language: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(Text, default="")
    # The number the caller asked to be called back on, when not the one they called from.
    callback_number: Mapped[str] = mapped_column(String(40), default="", server_default="")
    description: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str | None] = mapped_column(String(40))
    resolution: Mapped[str] = mapped_column(Text, default="")  # the reply passed to the caller
    # Filled by the transcription of the linked call (speaker turns, timestamps).
    transcript: Mapped[Any | None] = mapped_column(JSON)
    handler: Mapped[str | None] = mapped_column(String(64))  # agent in charge at the centre
    # The earlier ticket of the same caller and category this one repeats (repeat campaigns).
    repeat_of: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_tickets_caller_number", "caller_number"),
        Index("ix_tickets_status_deadline", "status", "deadline"),
        Index("ix_tickets_created_at", "created_at"),
    )


class TicketEventRow(Base):
    """Ticket history: every change, who made it and when; ``changes`` maps each field changed
    to [from, to]. Written in the same transaction as the change itself."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create, update, transition, link_call
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)


class TicketCallRow(Base):
    """Calls linked to a ticket (a caller may call several times about one request). Keyed by
    the call's call_id: the ticket may be saved while the call is still live, before its
    record exists, so there is no foreign key to ``calls``."""

    __tablename__ = "ticket_calls"

    call_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    linked_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        PrimaryKeyConstraint("call_id", "ticket_id"),
        Index("ix_ticket_calls_ticket", "ticket_id"),
    )


class DraftAcceptanceRow(Base):
    """What the agent did with each field the system drafted, when the ticket was first saved
    (``hotline/tickets/acceptance.py``): accepted, changed, emptied or added. The values are
    kept only for taxonomy fields (kind, category), never for the caller's words or numbers.
    ``call_id`` has no foreign key, like ``ticket_calls``: the call's record may come later."""

    __tablename__ = "draft_acceptance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # accepted, changed, emptied, added
    draft_value: Mapped[str | None] = mapped_column(String(64))
    saved_value: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("ticket_id", "field", name="uq_draft_acceptance_ticket_field"),
        Index("ix_draft_acceptance_at", "at"),
    )


class AgentRow(Base):
    """A person who takes calls (or supervises): skills, roles, and where they are logged in."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), unique=True)  # the login name
    name: Mapped[str] = mapped_column(String(128), default="")
    extension: Mapped[str | None] = mapped_column(String(16))  # usual seat
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # skill → level 1..5
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    # The session: set while logged in. The service reconciles Asterisk to this.
    logged_in_extension: Mapped[str | None] = mapped_column(String(16))
    paused: Mapped[bool] = mapped_column(default=False)
    pause_reason: Mapped[str | None] = mapped_column(String(64))
    state_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    wrapup_call: Mapped[str | None] = mapped_column(String(64))  # call_id the wrap-up follows
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AgentEventRow(Base):
    """Agent state history: login, logout, pause, unpause (with reason). Metrics read this."""

    __tablename__ = "agent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    extension: Mapped[str | None] = mapped_column(String(16))
    pbx: Mapped[str | None] = mapped_column(String(40))  # the extension's PBX
    at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- metric roll-ups: caches of the tables above, rebuilt from them when needed ------------------
class CallHourRow(Base):
    """Sums over the ended calls that started in one UTC hour (``bucket`` = epoch hours), per
    queue, agent, language, request kind, region and PBX. Built on demand for hours that are over
    (see ``CallHourMark``) and dropped when a late record changes one of them."""

    __tablename__ = "call_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    pbx: Mapped[str | None] = mapped_column(String(40))
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    short_abandons: Mapped[int] = mapped_column(Integer)
    answered_in_sl: Mapped[int] = mapped_column(Integer)
    wait_answered: Mapped[float] = mapped_column(Float)
    talk: Mapped[float] = mapped_column(Float)
    wrapup: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_call_hours_bucket", "bucket"),)


class CallHourMark(Base):
    """An hour whose ``call_hours`` rows are built, and the thresholds they were built with
    (changing the short-abandon or service-level setting makes them stale)."""

    __tablename__ = "call_hour_marks"

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    short_abandon: Mapped[float] = mapped_column(Float)
    service_level: Mapped[float] = mapped_column(Float)
    build: Mapped[int] = mapped_column(BigInteger)  # changes each time the hour is rebuilt


class AgentSegmentRow(Base):
    """A closed stretch of one agent state (ready, paused, wrap_up) inside one UTC hour: a
    state that lasts longer is cut at the hours, so a partial hour reads only its own rows."""

    __tablename__ = "agent_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[str] = mapped_column(String(64))
    extension: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_agent_segments_bucket", "bucket"),)


class AgentHourRow(Base):
    """Seconds per agent state in one UTC hour, summed as segments close."""

    __tablename__ = "agent_hours"

    bucket: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[str] = mapped_column(String(64))
    extension: Mapped[str | None] = mapped_column(String(16))
    ready_s: Mapped[float] = mapped_column(Float, default=0.0)
    paused_s: Mapped[float] = mapped_column(Float, default=0.0)
    wrap_up_s: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (PrimaryKeyConstraint("bucket", "agent_id"),)
