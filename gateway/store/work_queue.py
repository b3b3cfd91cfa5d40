"""Due work claimed under leases, for any table with the work-queue columns.

A table of work has ``next_run_at`` (due time, NULL when nothing is due), ``lease_token``,
``lease_until`` and ``takeovers``. Jobs and deliveries are two such tables; nothing here knows
which one it is working on.

Fencing: a claim writes a fresh ``lease_token``; every write made while processing the claimed
row carries ``WHERE lease_token = :token`` and reports whether it landed. A replica that stalled
past its lease (and whose row another replica took over) finds its late writes refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gateway.store.database import Database


def unleased(table: sa.Table, now: float | sa.BindParameter[float]) -> sa.ColumnElement[bool]:
    """No live lease holds the row (never leased, released, or expired)."""
    return sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)


def lease_values(table: sa.Table, token: str, lease_until: float) -> dict[str, Any]:
    """The SET clause of a claim: the new lease, and a takeover counted when a row still held
    another token (its holder died or stalled instead of releasing it)."""
    return {"lease_token": token, "lease_until": lease_until, "takeovers": counted_takeover(table)}


def counted_takeover(table: sa.Table) -> sa.ColumnElement[int]:
    """A claim's new ``takeovers``: one more when the row still held another token."""
    return table.c.takeovers + sa.case((table.c.lease_token.is_not(None), 1), else_=0)


def claim_due(
    table: sa.Table,
    *,
    now: float,
    limit: int,
    token: str,
    lease_until: float,
    only: sa.ColumnElement[bool] | None = None,
) -> Any:
    """Lease up to ``limit`` due rows (of those ``only`` admits, when given), oldest due first;
    concurrent claimers skip each other's locked rows (PostgreSQL) or run one at a time
    (SQLite's single writer)."""
    due = (
        sa.select(table.c.id)
        .where(table.c.next_run_at <= now, unleased(table, now), *([] if only is None else [only]))
        .order_by(table.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(**lease_values(table, token, lease_until))
        .returning(*table.c)
    )


def fenced_update(table: sa.Table) -> Any:
    """An UPDATE of one row that lands only while ``match_token`` holds its lease; the SET
    clause comes from the parameters' other keys. Built once per table (building statements
    per call cost more than running them, bench/README.md)."""
    return sa.update(table).where(
        table.c.id == sa.bindparam("match_id"),
        table.c.lease_token == sa.bindparam("match_token"),
    )


class WorkQueues:
    """The lease housekeeping shared by every table of work: renew, release, what is due next."""

    def __init__(self, db: Database, tables: Sequence[sa.Table]) -> None:
        self.db = db
        self.tables = tuple(tables)

    async def renew_leases(self, tokens: Sequence[str], lease_until: float) -> int:
        """Extend the leases of work still running; returns how many rows were extended."""
        if not tokens:
            return 0
        count = 0
        async with self.db.write() as conn:
            for table in self.tables:
                # Rows locked in id order, as a batch of fenced writes locks them
                # (``JobStore.update_jobs``): the two never wait on each other in a cycle.
                held = (
                    sa.select(table.c.id)
                    .where(table.c.lease_token.in_(list(tokens)))
                    .order_by(table.c.id)
                    .with_for_update()
                )
                result = await conn.execute(
                    sa.update(table)
                    .where(table.c.id.in_(held.scalar_subquery()))
                    .values(lease_until=lease_until)
                )
                count += result.rowcount
        return count

    async def release_leases(self, tokens: Sequence[str]) -> None:
        """Give leases back without other changes (graceful shutdown): the work is due again."""
        if not tokens:
            return
        async with self.db.write() as conn:
            for table in self.tables:
                await conn.execute(
                    sa.update(table)
                    .where(table.c.lease_token.in_(list(tokens)))
                    .values(lease_token=None, lease_until=None)
                )

    async def earliest_due(self, *, now: float, until: float) -> float | None:
        """The earliest ``next_run_at`` up to ``until`` of a row that no live lease holds, in
        any table; None if there is none."""
        earliest: float | None = None
        async with self.db.read() as conn:
            for table in self.tables:
                value = (
                    await conn.execute(
                        sa.select(sa.func.min(table.c.next_run_at)).where(
                            table.c.next_run_at <= until, unleased(table, now)
                        )
                    )
                ).scalar_one()
                if value is not None and (earliest is None or value < earliest):
                    earliest = float(value)
        return earliest

    async def count_takeovers(self) -> int:
        """How many times, in all, a row was claimed while another lease token still held it."""
        total = 0
        async with self.db.read() as conn:
            for table in self.tables:
                value = (await conn.execute(sa.select(sa.func.sum(table.c.takeovers)))).scalar_one()
                total += int(value or 0)
        return total
