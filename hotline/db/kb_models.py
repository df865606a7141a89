"""Knowledge-base tables (SQLAlchemy 2), kept apart from ``models.py``.

The full-text indexes are not mapped here: they differ per database and live only in migration
0007 (an FTS5 table kept in sync by triggers on SQLite; a generated ``tsvector`` column and
trigram indexes on PostgreSQL). ``hotline/kb/store.py`` queries them with SQL of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db.models import Base, UtcDateTime


class KbArticleRow(Base):
    """One article. ``slug`` is the public id (stable across imports); ``id`` is the row id the
    SQLite full-text table points at."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # A category id of the ticket taxonomy (``tickets.categories``); None for general articles.
    category: Mapped[str | None] = mapped_column(String(40))
    # One keyword per line: plain text, so both databases can index it without JSON functions.
    keywords: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    kinds: Mapped[list[KbArticleKindRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="KbArticleKindRow.kind"
    )

    __table_args__ = (Index("ix_kb_articles_category", "category"),)


class KbArticleKindRow(Base):
    """A request kind an article helps with (consultation, help_request, ...): a row each, so
    suggestions filter by kind with an index on both databases."""

    __tablename__ = "kb_article_kinds"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_kb_article_kinds_kind", "kind"),)
