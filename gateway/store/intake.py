"""Intake's SQL: a batch of new jobs admitted and stored in one transaction (group commit).

Every accepted job goes through :func:`insert_batch`, whether it came alone
(``JobStore.insert_job``, a batch of one) or with the other requests that arrived while the
previous batch committed (``gateway.service.group_commit``).
One transaction, whatever the batch's size:

1. the batch's idempotency keys, looked up in one ``SELECT``: a retry of a job already accepted
   gets that job back (even at the rate limit or the in-flight cap) and spends no rate budget;
2. each client's rate window charged once with the batch's requests (and held), its in-flight
   jobs counted once (in the same statement on SQLite); then every request is decided in
   arrival order against those figures, so a batch never exceeds a limit; a second request
   with a key already claimed earlier in the batch replays that job (same body) or is refused
   (another body);
3. one multi-row statement each for the keys, the jobs and their history rows; a window's
   corrected count, only if a replay in the batch was charged; one ``NOTIFY`` (PostgreSQL).
   A created job's record is built from the values inserted (every other column starts at
   its default), not read back.

The caller answers nobody before the commit returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.history import JobEventKind
from gateway.store.counters import IN_FLIGHT_SQL, add_hits, settle_windows
from gateway.store.database import Database, Statement
from gateway.store.history import record_new_jobs
from gateway.store.records import JobRecord, NewJob, job_from_row, job_to_values, new_job_record
from gateway.store.schema import idempotency_keys, jobs


class Created(msgspec.Struct, frozen=True):
    job: JobRecord


class Replayed(msgspec.Struct, frozen=True):
    """The idempotency key was seen before with the same body: here is the original job."""

    job: JobRecord


class KeyReused(msgspec.Struct, frozen=True):
    """The idempotency key was seen before with a different body."""

    job_id: str


class OverRateLimit(msgspec.Struct, frozen=True):
    """The client's requests in this window exceeded its rate limit."""

    window_start: float


class TooManyInFlight(msgspec.Struct, frozen=True):
    in_flight: int


InsertOutcome = Created | Replayed | KeyReused | OverRateLimit | TooManyInFlight


class Admission(msgspec.Struct, frozen=True):
    """The per-client limits checked in the intake transaction itself (shared by replicas)."""

    window_start: float
    rate_limit: int
    max_in_flight: int


class IdempotencyClaim(msgspec.Struct, frozen=True):
    key: str
    request_hash: str
    ttl_s: float


class IntakeRequest(msgspec.Struct, frozen=True):
    """One job to admit and store, with what its request claimed."""

    new: NewJob
    now: float
    idempotency: IdempotencyClaim | None = None
    admission: Admission | None = None


# Built once (hot path). A new job's row: these columns; the others start at their defaults
# (NULL, 0), as ``new_job_record`` has them.
_INSERTED_COLUMNS = (
    "id",
    "client_id",
    "status",
    "request",
    "model",
    "resolution",
    "duration",
    "body_checked",
    "callback_url",
    "metadata",
    "events",
    "created_at",
    "updated_at",
    "deadline_at",
    "next_run_at",
    "traceparent",
)
_INSERT_JOBS = Statement(
    f"INSERT INTO jobs ({', '.join(_INSERTED_COLUMNS)}) "  # noqa: S608 (column names, constant)
    f"VALUES ({', '.join(':' + name for name in _INSERTED_COLUMNS)})"
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

_Key = tuple[str, str]  # (client id, idempotency key)


class _ReplayOf(msgspec.Struct, frozen=True):
    """Placeholder: replay the job created by the batch's request number ``index``."""

    index: int


class _ReplayStored(msgspec.Struct, frozen=True):
    """Placeholder: replay the stored job ``job_id`` (read once the batch is decided)."""

    job_id: str


_Pending = InsertOutcome | _ReplayOf | _ReplayStored | None


async def insert_batch(
    conn: AsyncConnection, db: Database, requests: Sequence[IntakeRequest]
) -> list[InsertOutcome]:
    """Admit and store ``requests`` inside the caller's transaction; one outcome per request,
    in order. Raises ``IntegrityError`` when another transaction committed one of the batch's
    keys since it was looked up (the caller runs the batch again, or its requests alone)."""
    stored = await _stored_keys(conn, requests)
    outcomes: list[_Pending] = [None] * len(requests)
    undecided: list[int] = []
    for index, request in enumerate(requests):
        claim = request.idempotency
        seen = None if claim is None else stored.get((request.new.client_id, claim.key))
        if seen is None or claim is None or seen.created_at < request.now - claim.ttl_s:
            undecided.append(index)
        elif seen.request_hash != claim.request_hash:
            outcomes[index] = KeyReused(job_id=seen.job_id)
        else:
            outcomes[index] = _ReplayStored(job_id=seen.job_id)

    admitted = [requests[i] for i in undecided if requests[i].admission is not None]
    # Every request still undecided counts in its window (at most: one repeating a key claimed
    # earlier in the batch replays that job and does not count; settle_windows corrects).
    hits = Counter((r.new.client_id, r.admission.window_start) for r in admitted if r.admission)
    windows_before, in_flight = await add_hits(conn, db, hits)
    windows = dict(windows_before)
    if not db.is_sqlite:  # after the windows' locks (see gateway.store.counters)
        in_flight = await _in_flight(conn, db, {r.new.client_id for r in admitted})

    claimed: dict[_Key, tuple[str, int]] = {}  # keys claimed in this batch: hash, creator
    accepted: list[int] = []
    expired: list[_Key] = []
    for index in undecided:
        request = requests[index]
        new, claim = request.new, request.idempotency
        key = None if claim is None else (new.client_id, claim.key)
        if key is not None and claim is not None and key in claimed:
            request_hash, creator = claimed[key]
            outcomes[index] = (
                _ReplayOf(index=creator)
                if request_hash == claim.request_hash
                else KeyReused(job_id=requests[creator].new.id)
            )
            continue
        if request.admission is not None:
            window = (new.client_id, request.admission.window_start)
            windows[window] += 1
            if windows[window] > request.admission.rate_limit:
                outcomes[index] = OverRateLimit(window_start=request.admission.window_start)
                continue
            if in_flight[new.client_id] >= request.admission.max_in_flight:
                outcomes[index] = TooManyInFlight(in_flight=in_flight[new.client_id])
                continue
            in_flight[new.client_id] += 1
        if key is not None and claim is not None:
            claimed[key] = (claim.request_hash, index)
            if key in stored:  # expired: the key starts afresh
                expired.append(key)
        accepted.append(index)

    await settle_windows(conn, windows_before, hits, windows)
    created = await _store(conn, db, requests, accepted, expired)
    for index, job in zip(accepted, created, strict=True):
        outcomes[index] = Created(job=job)
    replays = await _stored_jobs(conn, [o.job_id for o in outcomes if isinstance(o, _ReplayStored)])
    return [_settle(outcomes, outcome, replays) for outcome in outcomes]


def _settle(
    outcomes: Sequence[_Pending], outcome: _Pending, replays: dict[str, JobRecord]
) -> InsertOutcome:
    if isinstance(outcome, _ReplayOf):
        creator = outcomes[outcome.index]
        assert isinstance(creator, Created)
        return Replayed(job=creator.job)
    if isinstance(outcome, _ReplayStored):
        return Replayed(job=replays[outcome.job_id])
    assert outcome is not None
    return outcome


async def _stored_keys(conn: AsyncConnection, requests: Sequence[IntakeRequest]) -> dict[_Key, Any]:
    wanted = {(r.new.client_id, r.idempotency.key) for r in requests if r.idempotency}
    if not wanted:
        return {}
    parameters = {
        "client_ids": sorted({c for c, _ in wanted}),
        "keys": sorted({k for _, k in wanted}),
    }
    rows = (await conn.execute(_KEYS_AMONG, parameters)).all()
    return {(row.client_id, row.key): row for row in rows if (row.client_id, row.key) in wanted}


async def _stored_jobs(conn: AsyncConnection, job_ids: Sequence[str]) -> dict[str, JobRecord]:
    if not job_ids:
        return {}
    rows = (await conn.execute(_JOBS_AMONG, {"ids": sorted(set(job_ids))})).all()
    return {row.id: job_from_row(row) for row in rows}


async def _in_flight(conn: AsyncConnection, db: Database, client_ids: set[str]) -> dict[str, int]:
    """PostgreSQL: each client's jobs in flight, counted after its window's row was locked."""
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
    accepted: Sequence[int],
    expired: Sequence[_Key],
) -> list[JobRecord]:
    """Insert the accepted jobs, their keys and first history rows; wake the workers."""
    if not accepted:
        return []
    if expired:
        await conn.execute(
            _DELETE_KEY, [{"match_client_id": c, "match_key": k} for c, k in sorted(expired)]
        )
    keys = [
        {
            "client_id": r.new.client_id,
            "key": r.idempotency.key,
            "request_hash": r.idempotency.request_hash,
            "job_id": r.new.id,
            "created_at": r.now,
        }
        for r in (requests[i] for i in accepted)
        if r.idempotency is not None
    ]
    if keys:
        # In key order, for the same reason: concurrent batches claiming the same keys wait on
        # each other's rows in one order, so one fails (and is retried), none dead-locks.
        keys.sort(key=lambda row: (str(row["client_id"]), str(row["key"])))
        await conn.execute(_INSERT_KEYS, keys)
    created = [new_job_record(requests[i].new, now=requests[i].now) for i in accepted]
    rows = [{name: getattr(job, name) for name in _INSERTED_COLUMNS} for job in created]
    await db.run(conn, _INSERT_JOBS, [job_to_values(row) for row in rows])
    await record_new_jobs(
        conn, db, [(job.id, job.created_at) for job in created], JobEventKind.ACCEPTED
    )
    await db.notify_work(conn)
    return created
