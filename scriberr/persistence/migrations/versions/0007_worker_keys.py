"""worker_keys (credentials remote workers fetch job audio with) and
worker_processes.unhealthy_reason (why a process cannot take jobs right now)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_keys",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False, unique=True),
        sa.Column("preview", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("worker_processes") as batch:
        batch.add_column(sa.Column("unhealthy_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_processes") as batch:
        batch.drop_column("unhealthy_reason")
    op.drop_table("worker_keys")
