"""A job's history: rows of ``job_events``, written inside the transaction of each change.

A row copies the job's status, upstream status and poll count from the ``jobs`` row as it stands
in that transaction (``INSERT … SELECT``), so it always describes the job just after the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.history import JobEventKind
from gateway.store.database import Database, Statement
from gateway.store.records import could_be_id
from gateway.store.schema import job_events, jobs


class JobEventRecord(msgspec.Struct, frozen=True):
    id: int
    job_id: str
    client_id: str
    kind: str
    at: float
    status: str
    upstream_status: str | None
    polls: int
    data: dict[str, Any]


class NewJobEvent(msgspec.Struct, frozen=True):
    """One change to record; the job's state is read from its row when it is written."""

    kind: JobEventKind
    data: dict[str, Any] = msgspec.field(default_factory=dict)


# Built once (hot path: every change of every job writes one).
_RECORD = sa.insert(job_events).from_select(
    ["job_id", "client_id", "kind", "at", "status", "upstream_status", "polls", "data"],
    sa.select(
        jobs.c.id,
        jobs.c.client_id,
        sa.bindparam("kind", type_=sa.String),
        sa.bindparam("at", type_=sa.Float(precision=53)),
        jobs.c.status,
        jobs.c.upstream_status,
        jobs.c.poll_count,
        sa.bindparam("data", type_=sa.Text),
    ).where(jobs.c.id == sa.bindparam("job_id")),
)


# One writer of a job's history at a time: the job's row is locked before its rows are written,
# so their ids (taken at insert) commit in id order per job, and a reader resuming after an id
# (the event stream's Last-Event-ID) can never find a lower id committed later. (SQLite has one
# writer anyway; FOR UPDATE is PostgreSQL's, and SQLAlchemy leaves it out on SQLite.)
_LOCK_JOBS = (
    sa.select(jobs.c.id)
    .where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(jobs.c.id)
    .with_for_update()
)


async def record_events(
    conn: AsyncConnection, job_id: str, events: Sequence[NewJobEvent], *, at: float
) -> None:
    """Write ``events`` of job ``job_id`` inside the caller's transaction (after its change)."""
    await record_job_events(conn, [(job_id, event, at) for event in events])


async def record_job_events(
    conn: AsyncConnection, events: Sequence[tuple[str, NewJobEvent, float]]
) -> None:
    """Write events of several jobs — each ``(job id, event, at)`` — inside the caller's
    transaction, in one statement; the jobs' rows are locked first, in id order (as a batch of
    fenced writes locks them)."""
    if not events:
        return
    await conn.execute(_LOCK_JOBS, {"ids": sorted({job_id for job_id, _, _ in events})})
    await conn.execute(
        _RECORD,
        [
            {
                "job_id": job_id,
                "kind": str(event.kind),
                "at": at,
                "data": msgspec.json.encode(event.data).decode(),
            }
            for job_id, event, at in events
        ],
    )


# Intake's (both databases' drivers: ``gateway.store.intake``, ``gateway.store.intake_sqlite``):
# the same, for jobs just inserted, with no details.
RECORD_NEW = Statement(
    "INSERT INTO job_events (job_id, client_id, kind, at, status, upstream_status, polls, data) "
    "SELECT id, client_id, CAST(:kind AS VARCHAR(40)), CAST(:at AS DOUBLE PRECISION), status, "
    "upstream_status, poll_count, '{}' FROM jobs WHERE id = :job_id"
)


def new_job_events(
    jobs_at: Sequence[tuple[str, float]], kind: JobEventKind
) -> list[dict[str, Any]]:
    """The parameters of ``RECORD_NEW``: each job's first event (``kind``, at its time)."""
    return [{"job_id": job_id, "kind": str(kind), "at": at} for job_id, at in jobs_at]


def _from_row(row: Any) -> JobEventRecord:
    values = {str(key): value for key, value in row._mapping.items()}
    values["data"] = msgspec.json.decode(values["data"])
    return msgspec.convert(values, JobEventRecord)


class History:
    """Reading the history (``store.history``); writing happens inside each change's transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_for_job(
        self, job_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JobEventRecord]:
        """The job's events in the order they happened, those after ``after_id`` only."""
        if not could_be_id(job_id):
            return []
        query = (
            sa.select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.id > after_id)
            .order_by(job_events.c.id)
            .limit(limit)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_from_row(row) for row in rows]
