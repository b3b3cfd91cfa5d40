"""kept outputs: the copy of a finished video as part of the job (issue 26)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-08 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time = sa.Float(precision=53)


def _job_columns() -> tuple[sa.Column[Any], ...]:
    return (
        # A constant default: SQLite adds the column in place (an expression would make the
        # batch copy the table, which its foreign keys refuse once deliveries exist).
        sa.Column("keep_output", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("keep_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("keep_started_at", Time, nullable=True),
        sa.Column("output_kept", sa.Boolean(), nullable=True),
        sa.Column("output_url", sa.Text(), nullable=True),
        sa.Column("output_poster_url", sa.Text(), nullable=True),
        sa.Column("output_key", sa.String(length=300), nullable=True),
        sa.Column("output_poster_key", sa.String(length=300), nullable=True),
        sa.Column("output_sha256", sa.String(length=64), nullable=True),
        sa.Column("output_bytes", sa.BigInteger(), nullable=True),
        sa.Column("output_content_type", sa.String(length=60), nullable=True),
        sa.Column("output_width", sa.Integer(), nullable=True),
        sa.Column("output_height", sa.Integer(), nullable=True),
        sa.Column("output_duration_s", sa.Float(), nullable=True),
        sa.Column("output_expires_at", Time, nullable=True),
        sa.Column("output_link_expires_at", Time, nullable=True),
        sa.Column("output_not_kept_reason", sa.String(length=40), nullable=True),
        sa.Column("output_note", sa.Text(), nullable=True),
        sa.Column("output_removed", sa.String(length=10), nullable=True),
        sa.Column("output_removed_at", Time, nullable=True),
    )


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in _job_columns():
            batch.add_column(column)
    op.create_index("ix_jobs_output_expires", "jobs", ["output_expires_at"], unique=False)
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("output_retention_s", Time, nullable=True))
    op.create_table(
        "gateway_secrets",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("gateway_secrets")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("output_retention_s")
    op.drop_index("ix_jobs_output_expires", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in reversed(_job_columns()):
            batch.drop_column(column.name)
