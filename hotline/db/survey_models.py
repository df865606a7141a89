"""Satisfaction surveys (SQLAlchemy 2), kept apart from ``models.py``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db.models import Base, UtcDateTime


class SurveyRow(Base):
    """One survey callback: at most one per ticket and one per call (both unique). Its status
    moves scheduled → calling → (completed | scheduled again | a final status); the move to
    ``calling`` is the claim, committed before the call is placed, so no restart or second
    service can dial it again.

    A calling survey has a dialler (the process placing the call) holding a lease it renews
    while the call is live: only a survey whose lease ran out (its dialler is gone) is
    interrupted, so a newly active service never interrupts another process's live call.
    ``dialled_at`` is set, conditionally, when dialling of the current attempt starts: a
    redelivered message for an attempt already started never rings the citizen again."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    call_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # call-triggered
    number: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    comment_path: Mapped[str | None] = mapped_column(Text)
    comment_text: Mapped[str | None] = mapped_column(Text)
    # Snapshot of the case at scheduling, for the satisfaction figures by group.
    agent: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(32))
    # The result was applied to the ticket (closed / reopened): a restart never applies twice.
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # While calling: who dials it, since when (None: handed to the queue, not dialled yet),
    # and until when its dialler is known alive (or, not dialled yet, must have started).
    dialler: Mapped[str | None] = mapped_column(String(64))
    dialled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_surveys_due", "status", "next_at"),
        Index("ix_surveys_finished", "finished_at"),
    )


class SurveyAttemptRow(Base):
    """Every call placed for a survey, written before the call goes out."""

    __tablename__ = "survey_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(Integer, ForeignKey("surveys.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # answered | busy | no_answer | rejected | no_input | failed | interrupted (None: calling)
    outcome: Mapped[str | None] = mapped_column(String(16))
    sip_status: Mapped[int | None] = mapped_column(Integer)
    digits: Mapped[str] = mapped_column(String(32), default="")
    result: Mapped[str | None] = mapped_column(String(24))
    dialler: Mapped[str | None] = mapped_column(String(64))  # the process that placed it

    __table_args__ = (Index("ix_survey_attempts_survey", "survey_id", "n", unique=True),)


class SurveyOptOutRow(Base):
    """A citizen who asked not to be surveyed again."""

    __tablename__ = "survey_optouts"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SurveyControlRow(Base):
    """The dialer's switch (one row): paused by an operator, for every service instance."""

    __tablename__ = "survey_control"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str] = mapped_column(String(64), default="")
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
