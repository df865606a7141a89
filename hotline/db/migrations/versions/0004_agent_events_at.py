"""agent_events: index on (at, id) for the metrics' time-range reads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_agent_events_at", "agent_events", ["at", "id"])


def downgrade() -> None:
    op.drop_index("ix_agent_events_at", "agent_events")
