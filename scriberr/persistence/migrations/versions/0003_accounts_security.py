"""accounts and security: user roles and disabling, the login throttle, API key parity fields

Revision ID: 0003
Revises: 0011_settings_auto_rename
Create Date: 2026-11-29 09:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0011_settings_auto_rename"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (never a batch table copy): on SQLite, copying `users` drops the old
    # table, and with foreign keys on that would cascade-delete every row that references it.
    op.add_column(
        "users", sa.Column("role", sa.String(length=16), nullable=False, server_default="member")
    )
    op.add_column(
        "users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # The first account (the one that registered) administers the server.
    users = sa.table(
        "users", sa.column("id", sa.String), sa.column("role"), sa.column("created_at")
    )
    first = sa.select(users.c.id).order_by(users.c.created_at, users.c.id).limit(1)
    op.execute(
        users.update().where(users.c.id == first.scalar_subquery()).values(role=sa.literal("admin"))
    )

    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "failed_at"])

    op.add_column("api_keys", sa.Column("description", sa.Text(), nullable=True))
    op.add_column(
        "api_keys", sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column("api_keys", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    api_keys = sa.table(
        "api_keys",
        sa.column("is_active"),
        sa.column("revoked_at"),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    op.execute(
        api_keys.update().where(api_keys.c.revoked_at.is_not(None)).values(is_active=sa.false())
    )
    op.execute(api_keys.update().values(updated_at=api_keys.c.created_at))

    op.create_index("ix_transcriptions_user_started", "transcriptions", ["user_id", "started_at"])
    op.create_index(
        "ix_transcriptions_queued_user", "transcriptions", ["status", "user_id", "queued_at"]
    )


def downgrade() -> None:
    with op.batch_alter_table("transcriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_transcriptions_queued_user")
        batch_op.drop_index("ix_transcriptions_user_started")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("is_active")
        batch_op.drop_column("description")
    op.drop_table("login_failures")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled")
        batch_op.drop_column("role")
