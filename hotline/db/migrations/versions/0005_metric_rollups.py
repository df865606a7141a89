"""metric roll-ups: per-hour call sums, agent time segments and hour sums, wrap-up per call

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("wrapup_time", sa.Float))
        batch.create_index("ix_calls_agent_started", ["agent", "started_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("wrapup_call", sa.String(64)))
    op.create_table(
        "call_hours",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("queue", sa.String(64)),
        sa.Column("agent", sa.String(64)),
        sa.Column("language", sa.String(8)),
        sa.Column("kind", sa.String(32)),
        *[
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("offered", "answered", "abandoned", "short_abandons", "answered_in_sl")
        ],
        *[
            sa.Column(name, sa.Float, nullable=False)
            for name in ("wait_answered", "talk", "wrapup")
        ],
    )
    op.create_index("ix_call_hours_bucket", "call_hours", ["bucket"])
    op.create_table(
        "call_hour_marks",
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("short_abandon", sa.Float, nullable=False),
        sa.Column("service_level", sa.Float, nullable=False),
        sa.Column("build", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "agent_segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(16)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start", ts, nullable=False),
        sa.Column("end", ts, nullable=False),
    )
    op.create_index("ix_agent_segments_bucket", "agent_segments", ["bucket"])
    op.create_table(
        "agent_hours",
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(16)),
        sa.Column("ready_s", sa.Float, nullable=False),
        sa.Column("paused_s", sa.Float, nullable=False),
        sa.Column("wrap_up_s", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("bucket", "agent_id"),
    )
    # The history written before these tables existed.
    from hotline.agents.time import rebuild_on

    rebuild_on(op.get_bind(), attribute_wrapups=True)


def downgrade() -> None:
    op.drop_table("agent_hours")
    op.drop_table("agent_segments")
    op.drop_table("call_hour_marks")
    op.drop_table("call_hours")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("wrapup_call")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_agent_started")
        batch.drop_column("wrapup_time")
