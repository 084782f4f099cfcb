"""transcription_segments: partial segments of running attempts (live transcripts)

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcription_segments",
        sa.Column(
            "transcription_id",
            sa.String(length=40),
            sa.ForeignKey("transcriptions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("execution_id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transcription_segments")
