"""Shared counters: per-client rate windows and learned generation durations.

Both live in the database so that every replica sees the same figures: a rate limit holds
across replicas, and what one replica learns about generation times the others use.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.jobs import IN_FLIGHT
from gateway.store.database import Database, Statement
from gateway.store.schema import duration_stats, rate_windows


def _upsert(db: Database, table: sa.Table) -> Any:
    return (sqlite.insert if db.is_sqlite else postgresql.insert)(table)


# The rate-window upsert runs on every accepted job. Written out once (the same SQL on SQLite and
# PostgreSQL): SQLAlchemy cannot cache a compiled ON CONFLICT … DO UPDATE, and compiling it per
# request cost a tenth of intake.
_COUNT_HIT = sa.text(
    "INSERT INTO rate_windows (client_id, window_start, count) "
    "VALUES (:client_id, :window_start, 1) "
    "ON CONFLICT (client_id, window_start) DO UPDATE SET count = rate_windows.count + 1 "
    "RETURNING count"
)


async def count_hit(
    conn: AsyncConnection, db: Database, client_id: str, window_start: float
) -> int:
    """Count one request in the client's window (inside the caller's transaction)."""
    parameters = {"client_id": client_id, "window_start": window_start}
    count = int((await conn.execute(_COUNT_HIT, parameters)).scalar_one())
    if count == 1:  # first hit of a window: forget the client's older windows
        await conn.execute(
            sa.delete(rate_windows).where(
                rate_windows.c.client_id == client_id,
                rate_windows.c.window_start < window_start,
            )
        )
    return count


# Group commit (``gateway.store.intake``): a batch adds all of its hits to each client's window
# in one statement that takes the row (created when new; on PostgreSQL the upsert locks it to the
# end of the transaction, so replicas admitting the same client take turns) and returns the new
# count; the batch decides every request against the count before it, and writes a correction
# only when fewer requests counted than it added (a key repeated in the batch replays, uncounted).
_ADD_HITS_SQL = (
    "INSERT INTO rate_windows (client_id, window_start, count) "
    "VALUES (:client_id, :window_start, :hits) "
    "ON CONFLICT (client_id, window_start) DO UPDATE SET count = rate_windows.count + :hits "
    "RETURNING count"
)
ADD_HITS = Statement(_ADD_HITS_SQL)
# SQLite (``gateway.store.intake_sqlite``): the same statement also counts the client's jobs in
# flight (one statement fewer per batch). Not on PostgreSQL: a statement reads from a snapshot
# taken before it waited for the window's lock, so it could miss jobs another replica committed
# meanwhile; there the count is a statement of its own, after the lock (``gateway.store.intake``).
# SQLite has one writer.
# The statuses of a job in flight as an SQL list (the domain's constants, never input).
IN_FLIGHT_SQL = ", ".join(f"'{status}'" for status in sorted(IN_FLIGHT))
ADD_HITS_COUNTING_IN_FLIGHT = Statement(
    # The statuses are the domain's constants, never input: nothing to inject.
    f"{_ADD_HITS_SQL}, (SELECT count(*) FROM jobs WHERE jobs.client_id = :client_id "  # noqa: S608
    f"AND jobs.status IN ({IN_FLIGHT_SQL}))"
)
SET_WINDOW = Statement(
    "UPDATE rate_windows SET count = :count "
    "WHERE client_id = :client_id AND window_start = :window_start"
)
FORGET_OLDER_WINDOWS = Statement(
    "DELETE FROM rate_windows WHERE client_id = :client_id AND window_start < :window_start"
)

Window = tuple[str, float]  # (client id, window start)


def hit_parameters(hits: dict[Window, int]) -> list[dict[str, Any]]:
    """One statement's parameters per window, in sorted order: two replicas' batches take the
    windows' rows in one order, so they never wait on each other in a cycle."""
    return [
        {"client_id": client_id, "window_start": window_start, "hits": added}
        for (client_id, window_start), added in sorted(hits.items())
    ]


def window_corrections(
    before: dict[Window, int], hits: dict[Window, int], counted: dict[Window, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The windows whose ``counted`` total is not ``before`` plus the ``hits`` added (their
    ``SET_WINDOW`` parameters), and the windows whose first hits these are (their
    ``FORGET_OLDER_WINDOWS`` parameters: the client's older windows go)."""
    corrections = [
        {"client_id": c, "window_start": w, "count": counted[(c, w)]}
        for (c, w), count in before.items()
        if counted[(c, w)] != count + hits[(c, w)]
    ]
    fresh = [
        {"client_id": c, "window_start": w}
        for (c, w), count in before.items()
        if count == 0 and counted[(c, w)] != 0
    ]
    return corrections, fresh


class CounterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def hit(self, client_id: str, *, window_start: float) -> int:
        """Count one request in the client's window; returns the count including this one."""
        async with self.db.write() as conn:
            return await count_hit(conn, self.db, client_id, window_start)

    async def record_duration(self, key: str, seconds: float, *, now: float) -> None:
        """Fold one observed generation time into the running mean and variance (Welford)."""
        async with self.db.write() as conn:
            query = sa.select(duration_stats).where(duration_stats.c.key == key)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            row = (await conn.execute(query)).first()
            if row is None:
                insert = _upsert(self.db, duration_stats).values(
                    key=key, count=1, mean_s=seconds, m2=0.0, updated_at=now
                )
                await conn.execute(insert.on_conflict_do_nothing())
                return
            count = int(row._mapping["count"]) + 1
            delta = seconds - row.mean_s
            mean = row.mean_s + delta / count
            m2 = row.m2 + delta * (seconds - mean)
            await conn.execute(
                sa.update(duration_stats)
                .where(duration_stats.c.key == key)
                .values(count=count, mean_s=mean, m2=m2, updated_at=now)
            )

    async def durations(self) -> dict[str, tuple[int, float, float]]:
        """Every learned figure: key → (count, mean seconds, m2)."""
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(duration_stats))).all()
        return {row.key: (int(row._mapping["count"]), row.mean_s, row.m2) for row in rows}
