"""job history, attempts recorded after a lost lease, replica heartbeats, 404s counted apart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(precision=53), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("upstream_status", sa.String(length=20), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_events_job", "job_events", ["job_id", "id"], unique=False)
    op.create_index("ix_job_events_client", "job_events", ["client_id", "id"], unique=False)
    op.create_table(
        "replica_heartbeats",
        sa.Column("replica_id", sa.String(length=200), nullable=False),
        sa.Column("beat_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("replica_id"),
    )
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(
            sa.Column("lease_lost", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("poll_not_found", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("poll_not_found")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("lease_lost")
    op.drop_table("replica_heartbeats")
    op.drop_index("ix_job_events_client", table_name="job_events")
    op.drop_index("ix_job_events_job", table_name="job_events")
    op.drop_table("job_events")
