"""subscriptions that look after themselves: custom headers, a payload filter, a throttle, the
failure state behind auto-disabling; deliveries without a job (operational events)

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-08 01:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("headers", sa.Text, nullable=True))
        batch.add_column(sa.Column("filter", sa.Text, nullable=True))
        batch.add_column(sa.Column("throttle", sa.Float, nullable=True))
        batch.add_column(sa.Column("failing_since", sa.Float(precision=53), nullable=True))
        batch.add_column(sa.Column("dead_count", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("job_id", existing_type=sa.String(length=40), nullable=True)


def downgrade() -> None:
    op.execute(
        "DELETE FROM delivery_attempts WHERE delivery_id IN "
        "(SELECT id FROM deliveries WHERE job_id IS NULL)"
    )
    op.execute("DELETE FROM deliveries WHERE job_id IS NULL")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("job_id", existing_type=sa.String(length=40), nullable=False)
    with op.batch_alter_table("subscriptions") as batch:
        for name in ("dead_count", "failing_since", "throttle", "filter", "headers"):
            batch.drop_column(name)
