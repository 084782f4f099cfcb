"""files.origin: files (and so jobs) made through the OpenAI-compatible `/v1` routes

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="library")
        )
        batch.create_index("ix_files_origin_created", ["origin", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_index("ix_files_origin_created")
        batch.drop_column("origin")
