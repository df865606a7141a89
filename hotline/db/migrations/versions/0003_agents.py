"""agents: skills, roles, sessions; agent state history; ticket deadlines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("extension", sa.String(16)),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("skills", sa.JSON, nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("logged_in_extension", sa.String(16)),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("pause_reason", sa.String(64)),
        sa.Column("state_since", ts),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("extension", sa.String(16)),
        sa.Column("at", ts, nullable=False),
    )
    op.create_index("ix_agent_events_agent_at", "agent_events", ["agent_id", "at"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("deadline", ts))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("deadline")
    op.drop_table("agent_events")
    op.drop_table("agents")
