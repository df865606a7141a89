"""ivr: the caller's IVR outcome on calls; tickets (status look-up)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("ivr", sa.String(16)))
        batch.add_column(sa.Column("language", sa.String(8)))
        batch.add_column(sa.Column("request_kind", sa.String(32)))
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_index("ix_tickets_caller_number", "tickets", ["caller_number"])


def downgrade() -> None:
    op.drop_table("tickets")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("request_kind")
        batch.drop_column("language")
        batch.drop_column("ivr")
