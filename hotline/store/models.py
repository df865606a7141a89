"""Database tables (SQLAlchemy 2). Every change to them goes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, TypeDecorator
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
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
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
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    resynced: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_caller_number", "caller_number"),
        Index("ix_calls_queue_started", "queue", "started_at"),
    )


class TicketRow(Base):
    """A 12345 ticket. Only what the IVR's status look-up needs so far; the ticket issue
    extends it."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the number callers key in
    status: Mapped[str] = mapped_column(String(16), default="draft")
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


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
    at: Mapped[datetime] = mapped_column(UtcDateTime)
