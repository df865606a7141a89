"""calls: one row per call

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("linkedid", sa.String(64), nullable=False, unique=True),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("dialled_number", sa.String(64), nullable=False),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("answered_at", ts),
        sa.Column("ended_at", ts),
        sa.Column("queue", sa.String(64)),
        sa.Column("queue_joined_at", ts),
        sa.Column("agent", sa.String(64)),
        sa.Column("agent_name", sa.String(128)),
        sa.Column("queue_wait", sa.Float),
        sa.Column("ring_time", sa.Float),
        sa.Column("talk_time", sa.Float),
        sa.Column("ended_by", sa.String(16)),
        sa.Column("disposition", sa.String(16)),
        sa.Column("hangup_cause", sa.String(64)),
        sa.Column("recordings", sa.JSON, nullable=False),
        sa.Column("ivr_path", sa.JSON, nullable=False),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("resynced", sa.Boolean, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_caller_number", "calls", ["caller_number"])
    op.create_index("ix_calls_queue_started", "calls", ["queue", "started_at"])


def downgrade() -> None:
    op.drop_table("calls")
