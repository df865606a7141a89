"""several PBXes: the PBX of each call record, in the per-hour call sums and the agent history

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Everything stored so far came through the one PBX the service had: the configured one
    # (hotline.db.engine.migrate passes its name).
    primary = str(context.config.attributes.get("primary_pbx", "pbx1"))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("pbx", sa.String(40)))
        batch.create_index("ix_calls_pbx_started", ["pbx", "started_at"])
    op.execute(sa.text("UPDATE calls SET pbx = :pbx").bindparams(pbx=primary))
    with op.batch_alter_table("agent_events") as batch:
        batch.add_column(sa.Column("pbx", sa.String(40)))
    op.execute(sa.text("UPDATE agent_events SET pbx = :pbx").bindparams(pbx=primary))
    # The sums gain a key: drop them, the next queries rebuild them (a cache of calls).
    op.execute("DELETE FROM call_hours")
    op.execute("DELETE FROM call_hour_marks")
    with op.batch_alter_table("call_hours") as batch:
        batch.add_column(sa.Column("pbx", sa.String(40)))


def downgrade() -> None:
    op.execute("DELETE FROM call_hours")
    op.execute("DELETE FROM call_hour_marks")
    with op.batch_alter_table("call_hours") as batch:
        batch.drop_column("pbx")
    with op.batch_alter_table("agent_events") as batch:
        batch.drop_column("pbx")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_pbx_started")
        batch.drop_column("pbx")
