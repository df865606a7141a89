"""knowledge base: articles, their request kinds, full-text search (FTS5 / tsvector + pg_trgm)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 table over kb_articles. The trigram tokenizer indexes every
# three characters, so Chinese (no spaces between words) is searchable by substring; unicode61
# would index a whole run of Chinese text as one token. NOTE: a later batch migration that
# rebuilds kb_articles (copy and rename) drops these triggers; such a migration must recreate
# them and run the 'rebuild' command.
_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5(title, keywords, body, content='kb_articles', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER kb_articles_ai AFTER INSERT ON kb_articles BEGIN "
    "INSERT INTO kb_fts(rowid, title, keywords, body) "
    "VALUES (new.id, new.title, new.keywords, new.body); END",
    "CREATE TRIGGER kb_articles_ad AFTER DELETE ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, title, keywords, body) "
    "VALUES ('delete', old.id, old.title, old.keywords, old.body); END",
    "CREATE TRIGGER kb_articles_au AFTER UPDATE OF title, keywords, body ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, title, keywords, body) "
    "VALUES ('delete', old.id, old.title, old.keywords, old.body); "
    "INSERT INTO kb_fts(rowid, title, keywords, body) "
    "VALUES (new.id, new.title, new.keywords, new.body); END",
]

# PostgreSQL: a weighted tsvector (title A, keywords B, body C) for ranking and word matches,
# and a trigram index over the same text for substring matches (Chinese). pg_trgm is a trusted
# extension (PostgreSQL 13+): the database owner may create it; it ships with postgresql-15.
_PG_FTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE kb_articles ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', title), 'A') || "
    "setweight(to_tsvector('simple', keywords), 'B') || "
    "setweight(to_tsvector('simple', body), 'C')) STORED",
    "CREATE INDEX ix_kb_articles_search ON kb_articles USING gin (search)",
    # The same expression as hotline/kb/store.py's _PG_DOC, or the planner will not use it.
    "CREATE INDEX ix_kb_articles_trgm ON kb_articles USING gin "
    "((title || ' ' || keywords || ' ' || body) gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("keywords", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_kb_articles_category", "kb_articles", ["category"])
    op.create_table(
        "kb_article_kinds",
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("kb_articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(32), primary_key=True),
    )
    op.create_index("ix_kb_article_kinds_kind", "kb_article_kinds", ["kind"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34, 0):
            raise RuntimeError(
                f"the knowledge base needs SQLite 3.34 or later (FTS5 trigram tokenizer); "
                f"this Python uses {sqlite3.sqlite_version}"
            )
        for statement in _SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in _PG_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("kb_articles_ai", "kb_articles_ad", "kb_articles_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    op.drop_table("kb_article_kinds")
    op.drop_table("kb_articles")  # its indexes and the generated column go with it
