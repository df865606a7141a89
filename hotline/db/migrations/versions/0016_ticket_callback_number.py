"""tickets.callback_number: the number the caller asked to be called back on

Filled from the draft's call-back number (the number the caller gave during the call) when
the agent files the ticket; empty when the caller's own number will do. Existing tickets get
an empty one: nothing is rewritten.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("callback_number", sa.String(40), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("callback_number")
