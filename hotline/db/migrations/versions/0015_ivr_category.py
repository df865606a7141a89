"""ivr category: the category a caller chose at an IVR category level

``calls.request_category`` (on the call record, beside ``request_kind``) and
``transcription_jobs.ivr_category`` (the draft's prior, beside ``ivr_kind``). Two nullable
columns: existing rows stay as they are (no category chosen), nothing is rewritten.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("request_category", sa.String(40)))
    with op.batch_alter_table("transcription_jobs") as batch:
        batch.add_column(sa.Column("ivr_category", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("transcription_jobs") as batch:
        batch.drop_column("ivr_category")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("request_category")
