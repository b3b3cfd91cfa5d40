"""Intake's SQL: a batch of new jobs admitted and stored in one transaction (group commit).

Every accepted job goes through ``JobStore.insert_jobs``, whether it came alone
(``JobStore.insert_job``, a batch of one) or with the other requests that arrived while the
previous batch committed (``gateway.store.group_commit``). The decisions are pure
(``gateway.store.intake_plan``); this module runs their statements on PostgreSQL, on asyncpg's
connection itself (``Database.pg_transaction``), and ``gateway.store.intake_sqlite`` on SQLite,
in one trip to its writer thread. One transaction, whatever the batch's size:

1. the batch's idempotency keys, looked up in one ``SELECT``;
2. each client's rate window charged once with the batch's requests (and held), its in-flight
   jobs counted once (in the same statement on SQLite); then every request is decided;
3. one statement run for many rows (``executemany``) each for the keys, the jobs and their
   history rows; a window's corrected count, only if a replay in the batch was charged; one
   ``NOTIFY`` (PostgreSQL).
   A created job's record is built from the values inserted (every other column starts at
   its default), not read back.

The caller answers nobody before the commit returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from gateway.domain.history import JobEventKind
from gateway.store.counters import (
    ADD_HITS,
    FORGET_OLDER_WINDOWS,
    IN_FLIGHT_SQL,
    SET_WINDOW,
    Window,
    hit_parameters,
    window_corrections,
)
from gateway.store.database import NOTIFY_WORK, Statement
from gateway.store.history import RECORD_NEW, new_job_events
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
from gateway.store.records import JobRecord, job_from_values

# Both databases' drivers run these (SQLite's: ``gateway.store.intake_sqlite``).
INSERT_JOBS = Statement(
    f"INSERT INTO jobs ({', '.join(INSERTED_COLUMNS)}) "  # noqa: S608 (column names, constant)
    f"VALUES ({', '.join(':' + name for name in INSERTED_COLUMNS)})"
)
INSERT_KEY = Statement(
    "INSERT INTO idempotency_keys (client_id, key, request_hash, job_id, created_at) "
    "VALUES (:client_id, :key, :request_hash, :job_id, :created_at)"
)
DELETE_KEY = Statement(
    "DELETE FROM idempotency_keys WHERE client_id = :match_client_id AND key = :match_key"
)
# PostgreSQL: lists as one array parameter each, so a statement's text is the same for every
# batch and asyncpg reuses its prepared statement.
_KEYS_AMONG = Statement(
    "SELECT client_id, key, job_id, request_hash, created_at FROM idempotency_keys "
    "WHERE client_id = ANY(:client_ids) AND key = ANY(:keys)"
)
_JOBS_AMONG = Statement("SELECT * FROM jobs WHERE id = ANY(:ids)")
_IN_FLIGHT_BY_CLIENT = Statement(
    # The statuses are the domain's constants, never input: nothing to inject.
    "SELECT client_id, count(*) FROM jobs WHERE client_id = ANY(:client_ids) "  # noqa: S608
    f"AND status IN ({IN_FLIGHT_SQL}) GROUP BY client_id"
)


async def insert_batch(
    conn: asyncpg.Connection, requests: Sequence[IntakeRequest]
) -> list[InsertOutcome]:
    """Admit and store ``requests`` in ``conn``'s open transaction (PostgreSQL); one outcome
    per request, in order. Raises the driver's unique violation when another transaction
    committed one of the batch's keys since it was looked up (the caller runs the batch again,
    or its requests alone)."""
    screened = Screened(requests, await _stored_keys(conn, requests))
    windows_before = await _add_hits(conn, screened.hits)
    # After the windows' locks (see gateway.store.counters).
    clients = {requests[i].new.client_id for i in screened.undecided if requests[i].admission}
    in_flight = await _in_flight(conn, clients)
    admitted = Admitted(requests, screened, windows_before, in_flight)
    corrections, fresh = window_corrections(windows_before, screened.hits, admitted.windows)
    await _run_many(conn, SET_WINDOW, corrections)
    await _run_many(conn, FORGET_OLDER_WINDOWS, fresh)
    created = await _store(conn, requests, admitted)
    replays = await _stored_jobs(conn, replays_wanted(screened))
    return outcomes_of(screened, admitted, created, replays)


async def _run_many(
    conn: asyncpg.Connection, statement: Statement, rows: Sequence[Mapping[str, Any]]
) -> None:
    if rows:
        await conn.executemany(statement.positional, [statement.arguments(r) for r in rows])


async def _stored_keys(
    conn: asyncpg.Connection, requests: Sequence[IntakeRequest]
) -> dict[Key, StoredKey]:
    wanted = wanted_keys(requests)
    if not wanted:
        return {}
    rows = await conn.fetch(_KEYS_AMONG.positional, *_KEYS_AMONG.arguments(keys_among(wanted)))
    return {
        (row["client_id"], row["key"]): StoredKey(
            row["job_id"], row["request_hash"], row["created_at"]
        )
        for row in rows
        if (row["client_id"], row["key"]) in wanted
    }


async def _add_hits(conn: asyncpg.Connection, hits: dict[Window, int]) -> dict[Window, int]:
    """Add ``hits`` to each window, taking its row for this transaction; each count before."""
    before: dict[Window, int] = {}
    for parameters in hit_parameters(hits):
        count = await conn.fetchval(ADD_HITS.positional, *ADD_HITS.arguments(parameters))
        window = (parameters["client_id"], parameters["window_start"])
        before[window] = int(count) - parameters["hits"]
    return before


async def _in_flight(conn: asyncpg.Connection, client_ids: set[str]) -> dict[str, int]:
    """Each client's jobs in flight, counted after its window's row was locked."""
    if not client_ids:
        return {}
    counts = dict.fromkeys(client_ids, 0)
    rows = await conn.fetch(_IN_FLIGHT_BY_CLIENT.positional, sorted(client_ids))
    for client_id, count in rows:
        counts[client_id] = int(count)
    return counts


async def _store(
    conn: asyncpg.Connection, requests: Sequence[IntakeRequest], admitted: Admitted
) -> list[JobRecord]:
    """Insert the accepted jobs, their keys and first history rows; wake the workers."""
    if not admitted.accepted:
        return []
    await _run_many(conn, DELETE_KEY, expired_key_rows(admitted))
    await _run_many(conn, INSERT_KEY, key_rows(requests, admitted))
    created = created_jobs(requests, admitted)
    await _run_many(conn, INSERT_JOBS, job_rows(created))
    events = new_job_events([(job.id, job.created_at) for job in created], JobEventKind.ACCEPTED)
    await _run_many(conn, RECORD_NEW, events)
    await conn.execute(NOTIFY_WORK)  # sent when the transaction commits
    return created


async def _stored_jobs(conn: asyncpg.Connection, job_ids: Sequence[str]) -> dict[str, JobRecord]:
    if not job_ids:
        return {}
    rows = await conn.fetch(_JOBS_AMONG.positional, list(job_ids))
    return {row["id"]: job_from_values(dict(row)) for row in rows}
