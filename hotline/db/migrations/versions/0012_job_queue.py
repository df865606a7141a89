"""Redis job engine: when each transcription job was last handed to the queue (the outbox);
each calling survey's dialler, when its dialling started and its lease

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    with op.batch_alter_table("transcription_jobs") as batch:
        batch.add_column(sa.Column("published_at", ts))
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("dialler", sa.String(64)))
        batch.add_column(sa.Column("dialled_at", ts))
        batch.add_column(sa.Column("lease_until", ts))
    with op.batch_alter_table("survey_attempts") as batch:
        batch.add_column(sa.Column("dialler", sa.String(64)))
    # Surveys calling before the upgrade have no lease: their dialler (the old service) is
    # gone, so they are interrupted at the next start, as before.
    surveys = sa.table(
        "surveys",
        sa.column("status", sa.String),
        sa.column("updated_at", ts),
        sa.column("dialled_at", ts),
        sa.column("lease_until", ts),
    )
    op.execute(
        surveys.update()
        .where(surveys.c.status == "calling")
        .values(dialled_at=surveys.c.updated_at, lease_until=surveys.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("survey_attempts") as batch:
        batch.drop_column("dialler")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("dialled_at")
        batch.drop_column("dialler")
    with op.batch_alter_table("transcription_jobs") as batch:
        batch.drop_column("published_at")
