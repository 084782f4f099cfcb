"""settings.auto_rename_enabled (upstream frontend's setting; stored, not yet acted on)

Revision ID: 0011_settings_auto_rename
Revises: 0002
Create Date: 2026-11-29 09:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_settings_auto_rename"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auto_rename_enabled",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("settings", schema=None) as batch_op:
        batch_op.drop_column("auto_rename_enabled")
