"""tickets: the 12345 lifecycle (kind, category, department, channel, ...), history, linked calls

Existing tickets are kept: the new columns are nullable or have a server default (channel
"phone": every ticket so far came from a call).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("kind", sa.String(32)))
        batch.add_column(sa.Column("category", sa.String(40)))
        batch.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="phone")
        )
        batch.add_column(
            sa.Column("caller_name", sa.String(128), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("caller_language", sa.String(8)))
        for name in ("location", "description", "resolution"):
            batch.add_column(sa.Column(name, sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("department", sa.String(40)))
        batch.add_column(sa.Column("transcript", sa.JSON))
        batch.add_column(sa.Column("repeat_of", sa.Integer))
        for name in ("handler", "created_by", "updated_by"):
            batch.add_column(sa.Column(name, sa.String(64)))
        for name in ("dispatched_at", "resolved_at", "closed_at"):
            batch.add_column(sa.Column(name, ts))
        batch.create_index("ix_tickets_status_deadline", ["status", "deadline"])
        batch.create_index("ix_tickets_created_at", ["created_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "id"])
    op.create_table(
        "ticket_calls",
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("linked_at", ts, nullable=False),
        sa.Column("linked_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("linkedid", "ticket_id"),
    )
    op.create_index("ix_ticket_calls_ticket", "ticket_calls", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("ticket_calls")
    op.drop_table("ticket_events")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_created_at")
        batch.drop_index("ix_tickets_status_deadline")
        for name in (
            "closed_at",
            "resolved_at",
            "dispatched_at",
            "updated_by",
            "created_by",
            "handler",
            "repeat_of",
            "transcript",
            "department",
            "resolution",
            "description",
            "location",
            "caller_language",
            "caller_name",
            "channel",
            "category",
            "kind",
        ):
            batch.drop_column(name)
