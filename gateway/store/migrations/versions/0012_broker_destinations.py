"""broker destinations: the clients' broker allow-list and signing mode, ed25519 keys, and
the broker targets' credentials stored apart (issue 28)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-08 01:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("broker_allowlist", sa.Text(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("signing_mode", sa.String(length=10), nullable=False, server_default="hmac")
        )
        batch.add_column(sa.Column("ed25519_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("previous_ed25519_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("previous_ed25519_until", sa.Float(precision=53), nullable=True))
    op.create_table(
        "broker_credentials",
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("masked", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.PrimaryKeyConstraint("subscription_id"),
    )


def downgrade() -> None:
    op.drop_table("broker_credentials")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("previous_ed25519_until")
        batch.drop_column("previous_ed25519_key")
        batch.drop_column("ed25519_key")
        batch.drop_column("signing_mode")
        batch.drop_column("broker_allowlist")
