"""Intake's batch on SQLite: the steps of ``gateway.store.intake.insert_batch`` as one plain
function of a ``sqlite3`` connection, run whole in the writer's thread
(``Database.write_in_thread``): one trip from the event loop per batch, not one per statement.

The decisions are the same (``gateway.store.intake_plan``); only the statements' driver
differs. SQLite has one writer, so the window's upsert also counts the client's jobs in flight
(``gateway.store.counters``), and no other replica can commit a key meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from gateway.domain.history import JobEventKind
from gateway.store.counters import (
    ADD_HITS_COUNTING_IN_FLIGHT,
    FORGET_OLDER_WINDOWS,
    SET_WINDOW,
    Window,
    hit_parameters,
    window_corrections,
)
from gateway.store.history import RECORD_NEW, new_job_events
from gateway.store.intake import DELETE_KEY, INSERT_JOBS, INSERT_KEY
from gateway.store.intake_plan import (
    Admitted,
    InsertOutcome,
    IntakeRequest,
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


def insert_batch_sqlite(
    conn: sqlite3.Connection, requests: Sequence[IntakeRequest]
) -> list[InsertOutcome]:
    """Admit and store ``requests`` in ``conn``'s open transaction; one outcome per request,
    in order."""
    screened = Screened(requests, _stored_keys(conn, requests))
    windows_before, in_flight = _add_hits(conn, screened.hits)
    admitted = Admitted(requests, screened, windows_before, in_flight)
    corrections, fresh = window_corrections(windows_before, screened.hits, admitted.windows)
    if corrections:
        conn.executemany(SET_WINDOW.sql, corrections)
    if fresh:
        conn.executemany(FORGET_OLDER_WINDOWS.sql, fresh)
    created = _store(conn, requests, admitted)
    replays = _stored_jobs(conn, replays_wanted(screened))
    return outcomes_of(screened, admitted, created, replays)


def _in_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:name_0, :name_1, …)`` and its parameters: placeholders only, never the values."""
    parameters = {f"{name}_{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(":" + key for key in parameters) + ")", parameters


def _stored_keys(
    conn: sqlite3.Connection, requests: Sequence[IntakeRequest]
) -> dict[tuple[str, str], StoredKey]:
    wanted = wanted_keys(requests)
    if not wanted:
        return {}
    among = keys_among(wanted)
    clients, client_parameters = _in_list("client", among["client_ids"])
    keys, key_parameters = _in_list("key", among["keys"])
    rows = conn.execute(
        "SELECT client_id, key, job_id, request_hash, created_at FROM idempotency_keys "  # noqa: S608 (placeholders)
        f"WHERE client_id IN {clients} AND key IN {keys}",
        client_parameters | key_parameters,
    ).fetchall()
    return {
        (client_id, key): StoredKey(job_id, request_hash, created_at)
        for client_id, key, job_id, request_hash, created_at in rows
        if (client_id, key) in wanted
    }


def _add_hits(
    conn: sqlite3.Connection, hits: dict[Window, int]
) -> tuple[dict[Window, int], dict[str, int]]:
    """Each window's count before the batch's hits, and each client's jobs in flight."""
    before: dict[Window, int] = {}
    in_flight: dict[str, int] = {}
    for parameters in hit_parameters(hits):
        count, flying = conn.execute(ADD_HITS_COUNTING_IN_FLIGHT.sql, parameters).fetchone()
        before[(parameters["client_id"], parameters["window_start"])] = count - parameters["hits"]
        in_flight[parameters["client_id"]] = int(flying)
    return before, in_flight


def _store(
    conn: sqlite3.Connection, requests: Sequence[IntakeRequest], admitted: Admitted
) -> list[JobRecord]:
    if not admitted.accepted:
        return []
    if admitted.expired:
        conn.executemany(DELETE_KEY.sql, expired_key_rows(admitted))
    keys = key_rows(requests, admitted)
    if keys:
        conn.executemany(INSERT_KEY.sql, keys)
    created = created_jobs(requests, admitted)
    conn.executemany(INSERT_JOBS.sql, job_rows(created))
    events = new_job_events([(job.id, job.created_at) for job in created], JobEventKind.ACCEPTED)
    conn.executemany(RECORD_NEW.sql, events)
    return created


def _stored_jobs(conn: sqlite3.Connection, job_ids: Sequence[str]) -> dict[str, JobRecord]:
    if not job_ids:
        return {}
    ids, parameters = _in_list("id", job_ids)
    cursor = conn.execute(f"SELECT * FROM jobs WHERE id IN {ids}", parameters)  # noqa: S608
    names = [column[0] for column in cursor.description]
    jobs = [job_from_values(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    return {job.id: job for job in jobs}
