"""subscriptions that look after themselves: custom headers, a payload filter, a throttle, the
failure state behind auto-disabling; deliveries without a job (operational events)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 01:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("headers", sa.Text, nullable=True))
        batch.add_column(sa.Column("filter", sa.Text, nullable=True))
        batch.add_column(sa.Column("throttle", sa.Float, nullable=True))
        batch.add_column(sa.Column("failing_since", sa.Float(precision=53), nullable=True))
        batch.add_column(sa.Column("dead_count", sa.Integer, nullable=False, server_default="0"))
    _deliveries_job_id(nullable=True)


def _attempts_table() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.Float(precision=53), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("replica_id", sa.String(length=200), nullable=True),
        sa.Column("lease_lost", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "id"], unique=False
    )


_SET_ASIDE = (
    "CREATE TABLE _attempts_aside AS SELECT id, delivery_id, attempt, attempted_at, "
    "status_code, latency_ms, error, response_excerpt, replica_id, lease_lost "
    "FROM delivery_attempts"
)
_PUT_BACK = (
    "INSERT INTO delivery_attempts (id, delivery_id, attempt, attempted_at, status_code, "
    "latency_ms, error, response_excerpt, replica_id, lease_lost) "
    "SELECT id, delivery_id, attempt, attempted_at, status_code, latency_ms, error, "
    "response_excerpt, replica_id, lease_lost FROM _attempts_aside"
)


def _deliveries_job_id(*, nullable: bool) -> None:
    """``deliveries.job_id``'s NOT NULL, dropped or set. PostgreSQL alters the column. SQLite
    rebuilds the table, and with foreign keys enforced (they are, on every connection) it cannot
    drop a table another references, nor turn enforcement off inside the migration's
    transaction: so ``delivery_attempts`` (the only table referencing ``deliveries``) is set
    aside in a plain copy, dropped, and rebuilt after, its rows (and ids) copied back."""
    if op.get_bind().dialect.name != "sqlite":
        with op.batch_alter_table("deliveries") as batch:
            batch.alter_column("job_id", existing_type=sa.String(length=40), nullable=nullable)
        return
    op.execute(_SET_ASIDE)
    op.drop_index("ix_delivery_attempts_delivery", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("job_id", existing_type=sa.String(length=40), nullable=nullable)
    _attempts_table()
    op.execute(_PUT_BACK)
    op.drop_table("_attempts_aside")


def downgrade() -> None:
    op.execute(
        "DELETE FROM delivery_attempts WHERE delivery_id IN "
        "(SELECT id FROM deliveries WHERE job_id IS NULL)"
    )
    op.execute("DELETE FROM deliveries WHERE job_id IS NULL")
    _deliveries_job_id(nullable=False)
    with op.batch_alter_table("subscriptions") as batch:
        for name in ("dead_count", "failing_since", "throttle", "filter", "headers"):
            batch.drop_column(name)
