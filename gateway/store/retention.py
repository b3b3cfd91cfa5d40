"""Removing finished jobs' records past their retention, and how big the database is.

One batch is one short transaction (``gateway.domain.retention`` sizes them):

1. the due jobs, oldest end first: finished before the cut-off, nothing due, no live lease, no
   pending delivery; locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so sweepers on two
   replicas take different jobs and never wait on each other (SQLite: one writer at a time);
2. their deliveries, locked the same way and read again (a statement of its own, so a
   redelivery committed since step 1 is seen): a job keeps its records if one of its
   deliveries is pending now, or is locked by someone else (a redelivery or replay in
   progress: it is left for a later sweep rather than waited for);
3. children before parents: attempts, deliveries, history rows, jobs.

A concurrent redelivery of a job being removed waits for this transaction and then finds
nothing to send again. Idempotency keys are not touched: a key outlives the retention's lower
bound (``RetentionPolicy.kept_for_s``), and an expired key is taken over by the next request
that uses it, whatever its old job.

SQLite keeps the freed pages in its freelist and reuses them for new rows, so the file stops
growing once removals keep pace with intake; it does not shrink (that needs a ``VACUUM``, a
rewrite of the whole file under an exclusive lock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.delivery import DeliveryState
from gateway.domain.jobs import TERMINAL
from gateway.store.database import Database
from gateway.store.schema import deliveries, delivery_attempts, job_events, jobs
from gateway.store.work_queue import unleased

# The tables whose rows the gauges count (and a sweep removes from).
COUNTED = (jobs, deliveries, delivery_attempts, job_events)


class Removed(msgspec.Struct, frozen=True):
    """Rows one batch removed, by table."""

    jobs: int = 0
    deliveries: int = 0
    delivery_attempts: int = 0
    job_events: int = 0

    def by_table(self) -> dict[str, int]:
        return {
            "jobs": self.jobs,
            "deliveries": self.deliveries,
            "delivery_attempts": self.delivery_attempts,
            "job_events": self.job_events,
        }


class DatabaseSize(msgspec.Struct, frozen=True):
    """The database's size in bytes; ``free_bytes``: SQLite's freelist (pages kept for reuse),
    0 on PostgreSQL (its free space map is not counted here)."""

    total_bytes: int
    free_bytes: int = 0


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def remove_finished(self, *, finished_before: float, now: float, limit: int) -> Removed:
        """One batch: remove up to ``limit`` jobs finished before ``finished_before`` that owe
        nothing, with their deliveries, attempts and history."""
        async with self.db.write() as conn:
            candidates = await _due_jobs(
                conn, finished_before=finished_before, now=now, limit=limit
            )
            if not candidates:
                return Removed()
            job_ids, delivery_ids = await _settled(conn, candidates)
            if not job_ids:
                return Removed()
            attempts = events = removed_deliveries = 0
            if delivery_ids:
                attempts = await _delete(
                    conn, delivery_attempts, delivery_attempts.c.delivery_id, delivery_ids
                )
                removed_deliveries = await _delete(conn, deliveries, deliveries.c.id, delivery_ids)
            events = await _delete(conn, job_events, job_events.c.job_id, job_ids)
            removed_jobs = await _delete(conn, jobs, jobs.c.id, job_ids)
        return Removed(
            jobs=removed_jobs,
            deliveries=removed_deliveries,
            delivery_attempts=attempts,
            job_events=events,
        )

    async def count_rows(self) -> dict[str, int]:
        """Rows per table (jobs, deliveries, delivery_attempts, job_events): exact counts, a
        scan each, so read by the sweeper now and then, never per scrape."""
        counts: dict[str, int] = {}
        async with self.db.read() as conn:
            for table in COUNTED:
                query = sa.select(sa.func.count()).select_from(table)
                counts[table.name] = int((await conn.execute(query)).scalar_one())
        return counts

    async def size(self) -> DatabaseSize:
        """The database's size: SQLite's main file (its pages times the page size; the
        write-ahead log not included), PostgreSQL's ``pg_database_size``."""
        async with self.db.read() as conn:
            if self.db.is_sqlite:
                page_size = int((await conn.exec_driver_sql("PRAGMA page_size")).scalar_one())
                pages = int((await conn.exec_driver_sql("PRAGMA page_count")).scalar_one())
                free = int((await conn.exec_driver_sql("PRAGMA freelist_count")).scalar_one())
                return DatabaseSize(total_bytes=pages * page_size, free_bytes=free * page_size)
            query = sa.text("SELECT pg_database_size(current_database())")
            return DatabaseSize(total_bytes=int((await conn.execute(query)).scalar_one()))


async def _due_jobs(
    conn: AsyncConnection, *, finished_before: float, now: float, limit: int
) -> list[str]:
    owed = sa.exists().where(
        deliveries.c.job_id == jobs.c.id, deliveries.c.state == DeliveryState.PENDING
    )
    query = (
        sa.select(jobs.c.id)
        .where(
            jobs.c.finished_at < finished_before,
            jobs.c.status.in_(sorted(TERMINAL)),
            jobs.c.next_run_at.is_(None),
            unleased(jobs, now),
            ~owed,
        )
        .order_by(jobs.c.finished_at, jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row[0] for row in (await conn.execute(query)).all()]


async def _settled(conn: AsyncConnection, job_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Of ``job_ids`` (locked), those whose every delivery this transaction could lock and none
    is pending; with the ids of their deliveries."""
    locked = (
        await conn.execute(
            sa.select(deliveries.c.id, deliveries.c.job_id, deliveries.c.state)
            .where(deliveries.c.job_id.in_(job_ids))
            .order_by(deliveries.c.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    totals = dict(
        (
            await conn.execute(
                sa.select(deliveries.c.job_id, sa.func.count())
                .where(deliveries.c.job_id.in_(job_ids))
                .group_by(deliveries.c.job_id)
            )
        )
        .tuples()
        .all()
    )
    held = Counter(job_id for _, job_id, _ in locked)
    owed = {job_id for _, job_id, state in locked if state == DeliveryState.PENDING}
    settled = [
        job_id
        for job_id in job_ids
        if job_id not in owed and held.get(job_id, 0) == int(totals.get(job_id, 0))
    ]
    keep = set(settled)
    return settled, [delivery_id for delivery_id, job_id, _ in locked if job_id in keep]


async def _delete(
    conn: AsyncConnection, table: sa.Table, column: sa.Column[str], ids: Sequence[str]
) -> int:
    result = await conn.execute(sa.delete(table).where(column.in_(list(ids))))
    return int(result.rowcount)
