"""Transcription jobs (SQLAlchemy 2), kept apart from ``models.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db.models import Base, UtcDateTime


class TranscriptionJobRow(Base):
    """One call's recordings to transcribe; one row per call (``call_id`` is unique), so a
    call is never queued twice. A worker claims a job with a lease; a job whose lease ran out
    (its worker died) is claimed again, up to ``max_attempts``."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    ivr_kind: Mapped[str | None] = mapped_column(String(32))
    ivr_category: Mapped[str | None] = mapped_column(String(40))  # a prior for the draft
    files: Mapped[dict[str, str]] = mapped_column(JSON)  # speaker → WAV path
    # queued | running | done | failed | skipped
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)  # claimable from
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    worker: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")
    audio_seconds: Mapped[float | None] = mapped_column(Float)
    transcript: Mapped[Any | None] = mapped_column(JSON)
    draft: Mapped[Any | None] = mapped_column(JSON)
    # The service applied the result (tickets, screen-pop): a restart never applies it twice.
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    # Redis engine: when the job's id was last handed to the queue (None: not yet, or given
    # back); the service's outbox sends what was never sent or looks lost.
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_transcription_jobs_claim", "status", "not_before"),
        Index("ix_transcription_jobs_delivery", "delivered", "status"),
    )
