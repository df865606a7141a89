"""one name for the global call id: ``linkedid`` columns become ``call_id``

The column has held ``<pbx>-<Asterisk Linkedid>`` since several PBXes (0011), not Asterisk's
own Linkedid. A column rename is a catalogue change on SQLite (3.25+) and PostgreSQL alike: no
row is rewritten, so it is quick on years of calls. Unnamed unique constraints and the primary
key follow the column.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TABLES = ("calls", "ticket_calls", "transcription_jobs", "surveys")


def _rename(old: str, new: str) -> None:
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def upgrade() -> None:
    _rename("linkedid", "call_id")


def downgrade() -> None:
    _rename("call_id", "linkedid")
