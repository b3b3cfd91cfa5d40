"""64-bit ids for the tables that grow without bound (job_events, delivery_attempts)

On PostgreSQL the columns were ``integer`` (a ``serial``): the 2,147,483,648th history row or
webhook attempt could not be written. Each column becomes ``bigint`` and so does its sequence
(``ALTER SEQUENCE … AS bigint``: a serial's sequence keeps its ``integer`` type, and its maximum
of 2^31 - 1, when only the column changes). The column's type change rewrites the table and
holds an ACCESS EXCLUSIVE lock on it while it runs (see the CHANGELOG). SQLite's integer primary
keys are 64-bit rowids already: nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROWING = ("job_events", "delivery_attempts")


def _sequence_of(table: str) -> str | None:
    """The sequence behind ``table.id``, as a quoted, qualified name (None without one)."""
    found = op.get_bind().execute(
        sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
    )
    name = found.scalar_one()
    return None if name is None else str(name)


def _retype(kind: type[sa.Integer], previous: type[sa.Integer], sql_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in GROWING:
        op.alter_column(table, "id", type_=kind(), existing_type=previous(), nullable=False)
        sequence = _sequence_of(table)
        if sequence is not None:  # the name comes from the catalogue, quoted by PostgreSQL
            op.execute(f"ALTER SEQUENCE {sequence} AS {sql_type}")


def upgrade() -> None:
    _retype(sa.BigInteger, sa.Integer, "bigint")


def downgrade() -> None:
    _retype(sa.Integer, sa.BigInteger, "integer")
