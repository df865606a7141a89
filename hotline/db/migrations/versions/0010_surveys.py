"""satisfaction surveys: one per ticket or call, every attempt, opt-outs, the dialer switch

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, unique=True),
        sa.Column("linkedid", sa.String(64), unique=True),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", ts),
        sa.Column("result", sa.String(24)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("comment_path", sa.Text),
        sa.Column("comment_text", sa.Text),
        sa.Column("agent", sa.String(64)),
        sa.Column("department", sa.String(40)),
        sa.Column("category", sa.String(40)),
        sa.Column("kind", sa.String(32)),
        sa.Column("applied", sa.Boolean, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("finished_at", ts),
    )
    op.create_index("ix_surveys_due", "surveys", ["status", "next_at"])
    op.create_index("ix_surveys_finished", "surveys", ["finished_at"])
    op.create_table(
        "survey_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "survey_id",
            sa.Integer,
            sa.ForeignKey("surveys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("ended_at", ts),
        sa.Column("outcome", sa.String(16)),
        sa.Column("sip_status", sa.Integer),
        sa.Column("digits", sa.String(32), nullable=False),
        sa.Column("result", sa.String(24)),
    )
    op.create_index("ix_survey_attempts_survey", "survey_attempts", ["survey_id", "n"], unique=True)
    op.create_table(
        "survey_optouts",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_table(
        "survey_control",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", ts),
    )


def downgrade() -> None:
    op.drop_table("survey_control")
    op.drop_table("survey_optouts")
    op.drop_table("survey_attempts")
    op.drop_table("surveys")
