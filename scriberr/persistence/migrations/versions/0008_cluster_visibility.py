"""Seeing the cluster: which host and worker ran an attempt or wrote a log line, when a worker
process was found dead, and when a job's worker went silent.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
    with op.batch_alter_table("job_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=80), nullable=True))
    with op.batch_alter_table("worker_processes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("transcriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stalled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcriptions", schema=None) as batch_op:
        batch_op.drop_column("stalled_at")
    with op.batch_alter_table("worker_processes", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
    with op.batch_alter_table("job_logs", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
        batch_op.drop_column("host")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("host")
