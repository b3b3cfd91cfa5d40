"""Jobs: intake (batches admitted and stored in one transaction: ``gateway.store.intake``), reads,
and the fenced writes of the worker that moves a claimed job on (``gateway.store.work_queue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.domain.jobs import IN_FLIGHT, TERMINAL
from gateway.store.database import Database
from gateway.store.deliveries import insert_deliveries
from gateway.store.history import NewJobEvent, record_events
from gateway.store.intake import insert_batch
from gateway.store.intake_plan import (
    Admission,
    Created,
    IdempotencyClaim,
    InsertOutcome,
    IntakeRequest,
    KeyReused,
    OverRateLimit,
    Replayed,
    TooManyInFlight,
)
from gateway.store.intake_sqlite import insert_batch_sqlite
from gateway.store.records import (
    JobChange,
    JobRecord,
    NewDelivery,
    NewJob,
    could_be_id,
    job_from_row,
    job_to_values,
)
from gateway.store.schema import jobs
from gateway.store.work_queue import claim_due, fenced_update


class FencedJobWrite(msgspec.Struct, frozen=True):
    """One fenced write of a claimed job that changes nothing but its own columns (no status
    change, no deliveries, no history): the kind ``JobStore.update_jobs`` writes many of at once."""

    job_id: str
    token: str
    change: JobChange
    now: float
    release: bool = True


# Statements on the hot paths, built once: building one per call (and its cache key) cost
# more than executing it (bench/README.md). The worker's fenced writes: the SET clause comes
# from the parameters' keys, the match is by id and lease token.
_FENCED_JOB_UPDATE = fenced_update(jobs)
# A batch of fenced writes first locks its rows (in id order, so two batches, or a batch and a
# lease renewal, never wait on each other in a cycle) and reads who holds them.
_LOCK_HOLDERS = (
    sa.select(jobs.c.id, jobs.c.lease_token)
    .where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(jobs.c.id)
    .with_for_update()
)
_TERMINAL_VALUES = frozenset(str(s) for s in TERMINAL)


__all__ = [
    "Admission",
    "Created",
    "IdempotencyClaim",
    "InsertOutcome",
    "IntakeRequest",
    "JobStore",
    "KeyReused",
    "OverRateLimit",
    "Replayed",
    "TooManyInFlight",
]


def newest_first(query: sa.Select[Any], *, before: tuple[float, str] | None, limit: int) -> Any:
    """A page of jobs, newest first; ``before`` is the (created_at, id) of the last job of the
    previous page (keyset pagination: stable while jobs are added)."""
    if before is not None:
        created_at, job_id = before
        query = query.where(
            sa.or_(
                jobs.c.created_at < created_at,
                sa.and_(jobs.c.created_at == created_at, jobs.c.id < job_id),
            )
        )
    return query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- intake -------------------------------------------------------------------------

    async def insert_job(
        self,
        new: NewJob,
        *,
        now: float,
        idempotency: IdempotencyClaim | None = None,
        admission: Admission | None = None,
    ) -> InsertOutcome:
        """Check the client's limits and store the job (``accepted``, due now) with its
        idempotency key: a batch of one (see :meth:`insert_jobs`)."""
        request = IntakeRequest(new=new, now=now, idempotency=idempotency, admission=admission)
        for _ in range(3):
            try:
                (outcome,) = await self.insert_jobs([request])
                return outcome
            except IntegrityError:
                # A concurrent request with the same idempotency key committed first; the next
                # round finds its row and answers from it.
                if idempotency is None:
                    raise
        raise RuntimeError("idempotency key contention did not settle")  # pragma: no cover

    async def insert_jobs(self, requests: Sequence[IntakeRequest]) -> list[InsertOutcome]:
        """Admit and store a batch of jobs in one transaction (group commit): one outcome per
        request, in order, all committed when this returns. Raises ``IntegrityError`` when
        another replica committed one of the batch's idempotency keys meanwhile (nothing of the
        batch is stored then)."""
        if self.db.is_sqlite:  # the whole batch in one trip to the writer's thread
            return await self.db.write_in_thread(lambda conn: insert_batch_sqlite(conn, requests))
        async with self.db.pg_transaction() as conn:
            return await insert_batch(conn, requests)

    # --- reads --------------------------------------------------------------------------

    async def get_job(self, job_id: str, *, client_id: str | None = None) -> JobRecord | None:
        if not could_be_id(job_id):
            return None
        query = sa.select(jobs).where(jobs.c.id == job_id)
        if client_id is not None:
            query = query.where(jobs.c.client_id == client_id)
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else job_from_row(row)

    async def list_jobs(
        self,
        *,
        client_id: str,
        status: str | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[JobRecord]:
        """Newest first; ``before`` is the (created_at, id) of the last job of the previous page."""
        query = sa.select(jobs).where(jobs.c.client_id == client_id)
        if status is not None:
            query = query.where(jobs.c.status == status)
        query = newest_first(query, before=before, limit=limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [job_from_row(row) for row in rows]

    async def recent_finished(
        self, *, client_id: str, statuses: Sequence[str], models: Sequence[str] | None, limit: int
    ) -> list[JobRecord]:
        """A client's most recently finished jobs in ``statuses`` (of ``models``, if given)."""
        query = sa.select(jobs).where(
            jobs.c.client_id == client_id, jobs.c.status.in_(list(statuses))
        )
        if models is not None:
            query = query.where(jobs.c.model.in_(list(models)))
        query = query.order_by(jobs.c.finished_at.desc(), jobs.c.id.desc()).limit(limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [job_from_row(row) for row in rows]

    async def ended_among(self, job_ids: Sequence[str]) -> list[str]:
        """Which of ``job_ids`` have reached a terminal status (one query)."""
        ids = [job_id for job_id in job_ids if could_be_id(job_id)]
        if not ids:
            return []
        query = sa.select(jobs.c.id).where(
            jobs.c.id.in_(ids), jobs.c.status.in_(sorted(_TERMINAL_VALUES))
        )
        async with self.db.read() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]

    async def count_in_flight(self, client_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            jobs.c.client_id == client_id, jobs.c.status.in_([str(s) for s in IN_FLIGHT])
        )
        async with self.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    # --- work ---------------------------------------------------------------------------

    async def claim_jobs(
        self,
        *,
        now: float,
        limit: int,
        token: str,
        lease_until: float,
        skip_statuses: Sequence[str] = (),
    ) -> list[JobRecord]:
        """Lease up to ``limit`` jobs whose next step is due (and whose lease, if any, expired),
        none in ``skip_statuses`` (``keeping`` while every copy slot is taken)."""
        statement = claim_due(
            jobs,
            now=now,
            limit=limit,
            token=token,
            lease_until=lease_until,
            only=jobs.c.status.not_in(list(skip_statuses)) if skip_statuses else None,
        )
        async with self.db.write() as conn:
            rows = (await conn.execute(statement)).all()
        return [job_from_row(row) for row in rows]

    async def update_job(
        self,
        job_id: str,
        token: str,
        change: JobChange,
        *,
        now: float,
        release: bool = True,
        new_deliveries: Sequence[NewDelivery] = (),
        history: Sequence[NewJobEvent] = (),
    ) -> bool:
        """A fenced write: lands only while ``token`` still holds the job's lease.

        With ``release`` the lease is given back in the same write. Deliveries (webhook events)
        and the history rows of the change are inserted in the same transaction, so a job never
        reaches a status whose event or record is lost.
        """
        changes = job_to_values(change.fields()) | {"updated_at": now}
        if release:
            changes |= {"lease_token": None, "lease_until": None}
        async with self.db.write() as conn:
            result = await conn.execute(
                _FENCED_JOB_UPDATE, {**changes, "match_id": job_id, "match_token": token}
            )
            if result.rowcount != 1:
                return False
            await insert_deliveries(conn, new_deliveries, now=now)
            await record_events(conn, job_id, history, at=now)
            if changes.get("status") in _TERMINAL_VALUES:
                await self.db.notify_job_ended(conn, job_id)
        return True

    async def update_jobs(self, writes: Sequence[FencedJobWrite]) -> list[bool]:
        """Many fenced writes in one transaction; for each, whether it landed.

        The rows are locked first (PostgreSQL; SQLite has one writer) and a write whose token no
        longer holds its row is refused, exactly as ``update_job`` would refuse it; the others
        are written with one ``executemany`` per set of columns, each still matched by id and
        lease token. One write per job in a batch (a job has one task at a time).
        """
        if not writes:
            return []
        async with self.db.write() as conn:
            rows = await conn.execute(_LOCK_HOLDERS, {"ids": sorted({w.job_id for w in writes})})
            holders = {row.id: row.lease_token for row in rows}
            landed = [holders.get(w.job_id) == w.token for w in writes]
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for write, ok in zip(writes, landed, strict=True):
                if not ok:
                    continue
                values = job_to_values(write.change.fields()) | {"updated_at": write.now}
                if write.release:
                    values |= {"lease_token": None, "lease_until": None}
                values |= {"match_id": write.job_id, "match_token": write.token}
                groups.setdefault(tuple(sorted(values)), []).append(values)
            for params in groups.values():
                await conn.execute(_FENCED_JOB_UPDATE, params)
        return landed

    # --- figures for metrics ------------------------------------------------------------

    async def count_jobs_by_status(self) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        async with self.db.read() as conn:
            return {status: int(n) for status, n in (await conn.execute(query)).all()}
