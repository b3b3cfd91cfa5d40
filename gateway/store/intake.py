"""Intake's SQL: a batch of new jobs admitted and stored in one transaction (group commit).

Every accepted job goes through ``JobStore.insert_jobs``, whether it came alone
(``JobStore.insert_job``, a batch of one) or with the other requests that arrived while the
previous batch committed (``gateway.service.group_commit``). The decisions are pure
(``gateway.store.intake_plan``); this module runs their statements on PostgreSQL, and
``gateway.store.intake_sqlite`` on SQLite, in one trip to its writer thread. One transaction,
whatever the batch's size:

1. the batch's idempotency keys, looked up in one ``SELECT``;
2. each client's rate window charged once with the batch's requests (and held), its in-flight
   jobs counted once (in the same statement on SQLite); then every request is decided;
3. one multi-row statement each for the keys, the jobs and their history rows; a window's
   corrected count, only if a replay in the batch was charged; one ``NOTIFY`` (PostgreSQL).
   A created job's record is built from the values inserted (every other column starts at
   its default), not read back.

The caller answers nobody before the commit returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.history import JobEventKind
from gateway.store.counters import IN_FLIGHT_SQL, add_hits, settle_windows
from gateway.store.database import Database, Statement
from gateway.store.history import record_new_jobs
from gateway.store.intake_plan import (
    INSERTED_COLUMNS,
    Admitted,
    InsertOutcome,
    IntakeRequest,
    Key,
    Screened,
    StoredKey,
    created_jobs,
    expired_key_rows,
    job_rows,
    key_rows,
    keys_among,
    outcomes_of,
    replays_wanted,
    wanted_keys,
)
from gateway.store.records import JobRecord, job_from_row
from gateway.store.schema import idempotency_keys, jobs

INSERT_JOBS = Statement(
    f"INSERT INTO jobs ({', '.join(INSERTED_COLUMNS)}) "  # noqa: S608 (column names, constant)
    f"VALUES ({', '.join(':' + name for name in INSERTED_COLUMNS)})"
)
_INSERT_KEYS = sa.insert(idempotency_keys)
_DELETE_KEY = sa.delete(idempotency_keys).where(
    idempotency_keys.c.client_id == sa.bindparam("match_client_id"),
    idempotency_keys.c.key == sa.bindparam("match_key"),
)
_KEYS_AMONG = sa.select(idempotency_keys).where(
    idempotency_keys.c.client_id.in_(sa.bindparam("client_ids", expanding=True)),
    idempotency_keys.c.key.in_(sa.bindparam("keys", expanding=True)),
)
_JOBS_AMONG = sa.select(jobs).where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
# PostgreSQL only (SQLite counts in the window's statement, ``gateway.store.counters``): the
# clients as one array parameter, so the statement's text is the same for every batch (an
# expanding ``IN`` is rewritten per execution) and asyncpg reuses its prepared statement.
_IN_FLIGHT_BY_CLIENT = Statement(
    # The statuses are the domain's constants, never input: nothing to inject.
    "SELECT client_id, count(*) FROM jobs WHERE client_id = ANY(:client_ids) "  # noqa: S608
    f"AND status IN ({IN_FLIGHT_SQL}) GROUP BY client_id"
)


async def insert_batch(
    conn: AsyncConnection, db: Database, requests: Sequence[IntakeRequest]
) -> list[InsertOutcome]:
    """Admit and store ``requests`` inside the caller's transaction (PostgreSQL; SQLite runs
    the same steps in its writer thread, ``gateway.store.intake_sqlite``); one outcome per
    request, in order. Raises ``IntegrityError`` when another transaction committed one of the
    batch's keys since it was looked up (the caller runs the batch again, or its requests
    alone)."""
    screened = Screened(requests, await _stored_keys(conn, requests))
    windows_before = await add_hits(conn, db, screened.hits)
    # After the windows' locks (see gateway.store.counters).
    clients = {requests[i].new.client_id for i in screened.undecided if requests[i].admission}
    in_flight = await _in_flight(conn, db, clients)
    admitted = Admitted(requests, screened, windows_before, in_flight)
    await settle_windows(conn, windows_before, screened.hits, admitted.windows)
    created = await _store(conn, db, requests, admitted)
    replays = await _stored_jobs(conn, replays_wanted(screened))
    return outcomes_of(screened, admitted, created, replays)


async def _stored_keys(
    conn: AsyncConnection, requests: Sequence[IntakeRequest]
) -> dict[Key, StoredKey]:
    wanted = wanted_keys(requests)
    if not wanted:
        return {}
    rows = (await conn.execute(_KEYS_AMONG, keys_among(wanted))).all()
    return {
        (row.client_id, row.key): StoredKey(row.job_id, row.request_hash, row.created_at)
        for row in rows
        if (row.client_id, row.key) in wanted
    }


async def _stored_jobs(conn: AsyncConnection, job_ids: Sequence[str]) -> dict[str, JobRecord]:
    if not job_ids:
        return {}
    rows = (await conn.execute(_JOBS_AMONG, {"ids": list(job_ids)})).all()
    return {row.id: job_from_row(row) for row in rows}


async def _in_flight(conn: AsyncConnection, db: Database, client_ids: set[str]) -> dict[str, int]:
    """Each client's jobs in flight, counted after its window's row was locked."""
    if not client_ids:
        return {}
    counts = dict.fromkeys(client_ids, 0)
    rows = await db.run(conn, _IN_FLIGHT_BY_CLIENT, {"client_ids": sorted(client_ids)})
    for client_id, count in rows:
        counts[client_id] = int(count)
    return counts


async def _store(
    conn: AsyncConnection,
    db: Database,
    requests: Sequence[IntakeRequest],
    admitted: Admitted,
) -> list[JobRecord]:
    """Insert the accepted jobs, their keys and first history rows; wake the workers."""
    if not admitted.accepted:
        return []
    if admitted.expired:
        await conn.execute(_DELETE_KEY, expired_key_rows(admitted))
    keys = key_rows(requests, admitted)
    if keys:
        await conn.execute(_INSERT_KEYS, keys)
    created = created_jobs(requests, admitted)
    await db.run(conn, INSERT_JOBS, job_rows(created))
    await record_new_jobs(
        conn, db, [(job.id, job.created_at) for job in created], JobEventKind.ACCEPTED
    )
    await db.notify_work(conn)
    return created
