"""draft_acceptance: per ticket field, what the agent did with the system's draft

One row per drafted field of a ticket at its first save (accepted, changed, emptied, added),
for the reports' acceptance rate. A new table: nothing existing is rewritten.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_acceptance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("draft_value", sa.String(64)),
        sa.Column("saved_value", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id", "field", name="uq_draft_acceptance_ticket_field"),
    )
    op.create_index("ix_draft_acceptance_at", "draft_acceptance", ["at"])


def downgrade() -> None:
    op.drop_table("draft_acceptance")
