"""transcription jobs: one per call, claimed by workers with a lease

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "transcription_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("linkedid", sa.String(64), nullable=False, unique=True),
        sa.Column("language", sa.String(8)),
        sa.Column("ivr_kind", sa.String(32)),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", ts, nullable=False),
        sa.Column("lease_until", ts),
        sa.Column("worker", sa.String(64)),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("audio_seconds", sa.Float),
        sa.Column("transcript", sa.JSON),
        sa.Column("draft", sa.JSON),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("finished_at", ts),
    )
    op.create_index("ix_transcription_jobs_claim", "transcription_jobs", ["status", "not_before"])
    op.create_index("ix_transcription_jobs_delivery", "transcription_jobs", ["delivered", "status"])


def downgrade() -> None:
    op.drop_table("transcription_jobs")
