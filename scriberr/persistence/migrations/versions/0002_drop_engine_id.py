"""drop transcriptions.engine_id (never written or read)

Revision ID: 0002
Revises: 0005
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Native DROP COLUMN (SQLite >= 3.35): no table copy, so no foreign-key cascade from
        # dropping and recreating `transcriptions`.
        op.execute("ALTER TABLE transcriptions DROP COLUMN engine_id")
    else:
        op.drop_column("transcriptions", "engine_id")


def downgrade() -> None:
    op.add_column("transcriptions", sa.Column("engine_id", sa.String(length=80), nullable=True))
