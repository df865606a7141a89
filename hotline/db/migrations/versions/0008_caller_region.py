"""caller region on calls (out-of-town callers) and in the per-hour call sums

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("caller_region", sa.String(64)))
    # The sums gain a key: drop them, the next queries rebuild them (a cache of calls).
    op.execute("DELETE FROM call_hours")
    op.execute("DELETE FROM call_hour_marks")
    with op.batch_alter_table("call_hours") as batch:
        batch.add_column(sa.Column("region", sa.String(64)))


def downgrade() -> None:
    op.execute("DELETE FROM call_hours")
    op.execute("DELETE FROM call_hour_marks")
    with op.batch_alter_table("call_hours") as batch:
        batch.drop_column("region")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("caller_region")
