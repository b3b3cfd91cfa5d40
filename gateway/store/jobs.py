"""Jobs and their webhook deliveries: intake, claiming due work under a lease, fenced writes.

Fencing: a claim writes a fresh ``lease_token``; every write made while processing the claimed
row carries ``WHERE lease_token = :token`` and reports whether it landed. A replica that stalled
past its lease (and whose row another replica took over) finds its late writes refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.delivery import DeliveryState
from gateway.domain.history import JobEventKind
from gateway.domain.jobs import IN_FLIGHT, TERMINAL
from gateway.store.counters import count_hit
from gateway.store.database import Database
from gateway.store.history import NewJobEvent, record_events
from gateway.store.records import (
    AttemptRecord,
    DeliveryRecord,
    JobRecord,
    NewDelivery,
    NewJob,
    attempt_from_row,
    could_be_id,
    delivery_from_row,
    job_from_row,
    job_to_values,
)
from gateway.store.schema import deliveries, delivery_attempts, idempotency_keys, jobs


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


def _claim(table: sa.Table, now: float, limit: int, token: str, lease_until: float) -> Any:
    due = (
        sa.select(table.c.id)
        .where(
            table.c.next_run_at <= now,
            sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now),
        )
        .order_by(table.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(
            lease_token=token,
            lease_until=lease_until,
            # A row still holding another token was not released: its holder died or stalled.
            takeovers=table.c.takeovers + sa.case((table.c.lease_token.is_not(None), 1), else_=0),
        )
        .returning(*table.c)
    )


# Statements on the hot paths, built once: building one per call (and its cache key) cost
# more than executing it (bench/README.md).
_INSERT_JOB = sa.insert(jobs).returning(*jobs.c)
# The worker's fenced writes: the SET clause comes from the parameters' keys, the match is
# by id and lease token.
_FENCED_JOB_UPDATE = sa.update(jobs).where(
    jobs.c.id == sa.bindparam("match_id"), jobs.c.lease_token == sa.bindparam("match_token")
)
_FENCED_DELIVERY_UPDATE = sa.update(deliveries).where(
    deliveries.c.id == sa.bindparam("match_id"),
    deliveries.c.lease_token == sa.bindparam("match_token"),
)
_INSERT_ATTEMPT = sa.insert(delivery_attempts)
_TERMINAL_VALUES = frozenset(str(s) for s in TERMINAL)
_DELIVERY_TARGET = sa.select(deliveries.c.job_id, deliveries.c.event_type, deliveries.c.url).where(
    deliveries.c.id == sa.bindparam("delivery_id")
)
_COUNT_IN_FLIGHT = sa.select(sa.func.count()).where(
    jobs.c.client_id == sa.bindparam("client_id"),
    jobs.c.status.in_([str(s) for s in IN_FLIGHT]),
)


async def _record_redelivery(
    conn: AsyncConnection, rows: Sequence[Any], *, reason: str, at: float
) -> None:
    """One history row per job whose deliveries were made due again."""
    by_job: dict[str, list[str]] = {}
    for delivery_id, job_id in rows:
        by_job.setdefault(job_id, []).append(delivery_id)
    for job_id, delivery_ids in sorted(by_job.items()):
        data = {"reason": reason, "delivery_ids": sorted(delivery_ids)}
        await record_events(
            conn, job_id, [NewJobEvent(JobEventKind.REDELIVERY_REQUESTED, data)], at=at
        )


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
        idempotency key — one transaction, so intake costs one commit."""
        for _ in range(3):
            try:
                return await self._insert_job(
                    new, now=now, idempotency=idempotency, admission=admission
                )
            except IntegrityError:
                # A concurrent request with the same idempotency key committed first; the next
                # round finds its row and answers from it.
                if idempotency is None:
                    raise
        raise RuntimeError("idempotency key contention did not settle")  # pragma: no cover

    async def _insert_job(
        self,
        new: NewJob,
        *,
        now: float,
        idempotency: IdempotencyClaim | None,
        admission: Admission | None,
    ) -> InsertOutcome:
        async with self.db.write() as conn:
            # The key first: a retry of a job already accepted gets that job back, even when
            # the client is at its rate limit or in-flight cap, and spends no rate budget.
            if idempotency is not None:
                key_filter = sa.and_(
                    idempotency_keys.c.client_id == new.client_id,
                    idempotency_keys.c.key == idempotency.key,
                )
                seen = (await conn.execute(sa.select(idempotency_keys).where(key_filter))).first()
                if seen is not None and seen.created_at >= now - idempotency.ttl_s:
                    if seen.request_hash != idempotency.request_hash:
                        return KeyReused(job_id=seen.job_id)
                    row = (
                        await conn.execute(sa.select(jobs).where(jobs.c.id == seen.job_id))
                    ).one()
                    return Replayed(job=job_from_row(row))
            if admission is not None:
                hits = await count_hit(conn, self.db, new.client_id, admission.window_start)
                if hits > admission.rate_limit:
                    return OverRateLimit(window_start=admission.window_start)
                in_flight = (
                    await conn.execute(_COUNT_IN_FLIGHT, {"client_id": new.client_id})
                ).scalar_one()
                if in_flight >= admission.max_in_flight:
                    return TooManyInFlight(in_flight=int(in_flight))
            if idempotency is not None:
                if seen is not None:  # expired: the key starts afresh
                    await conn.execute(sa.delete(idempotency_keys).where(key_filter))
                await conn.execute(
                    sa.insert(idempotency_keys).values(
                        client_id=new.client_id,
                        key=idempotency.key,
                        request_hash=idempotency.request_hash,
                        job_id=new.id,
                        created_at=now,
                    )
                )
            values = job_to_values(
                {
                    "id": new.id,
                    "client_id": new.client_id,
                    "status": "accepted",
                    "request": new.request,
                    "model": new.model,
                    "resolution": new.resolution,
                    "duration": new.duration,
                    "body_checked": new.body_checked,
                    "callback_url": new.callback_url,
                    "metadata": new.metadata,
                    "events": new.events,
                    "created_at": now,
                    "updated_at": now,
                    "deadline_at": new.deadline_at,
                    "next_run_at": now,
                    "traceparent": new.traceparent,
                }
            )
            row = (await conn.execute(_INSERT_JOB, values)).one()
            await record_events(conn, new.id, [NewJobEvent(JobEventKind.ACCEPTED)], at=now)
            await self.db.notify_work(conn)
            return Created(job=job_from_row(row))

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
        if before is not None:
            created_at, job_id = before
            query = query.where(
                sa.or_(
                    jobs.c.created_at < created_at,
                    sa.and_(jobs.c.created_at == created_at, jobs.c.id < job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
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
        self, *, now: float, limit: int, token: str, lease_until: float
    ) -> list[JobRecord]:
        """Lease up to ``limit`` jobs whose next step is due (and whose lease, if any, expired)."""
        async with self.db.write() as conn:
            rows = (await conn.execute(_claim(jobs, now, limit, token, lease_until))).all()
        return [job_from_row(row) for row in rows]

    async def update_job(
        self,
        job_id: str,
        token: str,
        values: dict[str, Any],
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
        changes = job_to_values(values) | {"updated_at": now}
        if release:
            changes |= {"lease_token": None, "lease_until": None}
        async with self.db.write() as conn:
            result = await conn.execute(
                _FENCED_JOB_UPDATE, {**changes, "match_id": job_id, "match_token": token}
            )
            if result.rowcount != 1:
                return False
            await self._insert_deliveries(conn, new_deliveries, now=now)
            await record_events(conn, job_id, history, at=now)
            if changes.get("status") in _TERMINAL_VALUES:
                await self.db.notify_job_ended(conn, job_id)
        return True

    @staticmethod
    async def _insert_deliveries(
        conn: Any, new_deliveries: Sequence[NewDelivery], *, now: float
    ) -> None:
        """One pending delivery row per destination (the callback_url, each subscription),
        due now, in the caller's transaction."""
        if not new_deliveries:
            return
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "id": delivery.id,
                    "job_id": delivery.job_id,
                    "client_id": delivery.client_id,
                    "event_type": delivery.event_type,
                    "url": delivery.url,
                    "payload": delivery.payload.decode(),
                    "subscription_id": delivery.subscription_id,
                    "traceparent": delivery.traceparent,
                    "state": DeliveryState.PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                    "next_run_at": now,
                }
                for delivery in new_deliveries
            ],
        )

    async def renew_leases(self, tokens: Sequence[str], lease_until: float) -> int:
        """Extend the leases of work still running; returns how many rows were extended."""
        if not tokens:
            return 0
        count = 0
        async with self.db.write() as conn:
            for table in (jobs, deliveries):
                result = await conn.execute(
                    sa.update(table)
                    .where(table.c.lease_token.in_(list(tokens)))
                    .values(lease_until=lease_until)
                )
                count += result.rowcount
        return count

    async def release_leases(self, tokens: Sequence[str]) -> None:
        """Give leases back without other changes (graceful shutdown): the work is due again."""
        if not tokens:
            return
        async with self.db.write() as conn:
            for table in (jobs, deliveries):
                await conn.execute(
                    sa.update(table)
                    .where(table.c.lease_token.in_(list(tokens)))
                    .values(lease_token=None, lease_until=None)
                )

    # --- deliveries ---------------------------------------------------------------------

    async def claim_deliveries(
        self,
        *,
        now: float,
        limit: int,
        token: str,
        lease_until: float,
        exclude_clients: Sequence[str] = (),
        per_client: int | None = None,
    ) -> list[DeliveryRecord]:
        """Lease up to ``limit`` due deliveries, at most ``per_client`` of any one client and
        none of ``exclude_clients`` (those at their share), so one client's backlog cannot
        take every slot. Candidates are chosen without locks; the update re-checks that each
        is still due and unleased, so two replicas never both lease one row."""
        if per_client is None and not exclude_clients:
            async with self.db.write() as conn:
                rows = (
                    await conn.execute(_claim(deliveries, now, limit, token, lease_until))
                ).all()
            return [delivery_from_row(row) for row in rows]
        unleased = sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
        ranked = (
            sa.select(
                deliveries.c.id,
                deliveries.c.next_run_at,
                sa.func.row_number()
                .over(partition_by=deliveries.c.client_id, order_by=deliveries.c.next_run_at)
                .label("rank"),
            )
            .where(deliveries.c.next_run_at <= now, unleased)
            .where(deliveries.c.client_id.not_in(list(exclude_clients)))
            .subquery()
        )
        chosen = sa.select(ranked.c.id).order_by(ranked.c.next_run_at).limit(limit)
        if per_client is not None:
            chosen = chosen.where(ranked.c.rank <= per_client)
        claim = (
            sa.update(deliveries)
            .where(
                deliveries.c.id.in_(chosen.scalar_subquery()),
                deliveries.c.next_run_at <= now,
                unleased,
            )
            .values(
                lease_token=token,
                lease_until=lease_until,
                takeovers=deliveries.c.takeovers
                + sa.case((deliveries.c.lease_token.is_not(None), 1), else_=0),
            )
            .returning(*deliveries.c)
        )
        async with self.db.write() as conn:
            rows = (await conn.execute(claim)).all()
        return [delivery_from_row(row) for row in rows]

    async def defer_delivery(
        self, delivery_id: str, token: str, *, until: float, now: float
    ) -> bool:
        """Give a claimed delivery back, due at ``until``, without an attempt (its destination
        is busy or its circuit is open). Fenced."""
        async with self.db.write() as conn:
            result = await conn.execute(
                _FENCED_DELIVERY_UPDATE,
                {
                    "next_run_at": until,
                    "updated_at": now,
                    "lease_token": None,
                    "lease_until": None,
                    "match_id": delivery_id,
                    "match_token": token,
                },
            )
        return result.rowcount == 1

    async def record_attempt(
        self,
        delivery_id: str,
        token: str,
        attempt: AttemptRecord,
        values: dict[str, Any],
        *,
        now: float,
    ) -> bool:
        """Log one attempt and move the delivery on (fenced; releases the lease).

        An attempt that was made is a fact: it is recorded (with its history row) even when the
        lease was lost meanwhile, marked ``lease_lost``; only the delivery's state is then left
        to the replica that holds the lease now. Returns whether the fenced write landed.
        """
        async with self.db.write() as conn:
            result = await conn.execute(
                _FENCED_DELIVERY_UPDATE,
                {
                    **values,
                    "updated_at": now,
                    "lease_token": None,
                    "lease_until": None,
                    "match_id": delivery_id,
                    "match_token": token,
                },
            )
            landed = result.rowcount == 1
            record = msgspec.structs.replace(attempt, lease_lost=not landed)
            await conn.execute(_INSERT_ATTEMPT, msgspec.structs.asdict(record))
            delivery = (await conn.execute(_DELIVERY_TARGET, {"delivery_id": delivery_id})).one()
            state = values.get("state", DeliveryState.PENDING)
            data = {
                "delivery_id": delivery_id,
                "event_type": delivery.event_type,
                "url": delivery.url,
                "attempt": record.attempt,
                "status_code": record.status_code,
                "latency_ms": round(record.latency_ms, 1),
                "error": record.error,
                "response_excerpt": record.response_excerpt,
                "decision": "retry" if state == DeliveryState.PENDING else str(state),
                "lease_lost": record.lease_lost,
            }
            await record_events(
                conn,
                delivery.job_id,
                [NewJobEvent(JobEventKind.DELIVERY_ATTEMPTED, data)],
                at=record.attempted_at,
            )
        return landed

    async def list_deliveries(self, job_id: str) -> list[DeliveryRecord]:
        query = (
            sa.select(deliveries)
            .where(deliveries.c.job_id == job_id)
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [delivery_from_row(row) for row in rows]

    async def list_attempts(self, job_id: str) -> list[AttemptRecord]:
        query = (
            sa.select(delivery_attempts)
            .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
            .where(deliveries.c.job_id == job_id)
            .order_by(delivery_attempts.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [attempt_from_row(row) for row in rows]

    async def redeliver(self, job_id: str, *, now: float) -> list[DeliveryRecord]:
        """Send a job's finished events again (same event ids); pending ones are left alone."""
        async with self.db.write() as conn:
            again = (
                await conn.execute(
                    sa.update(deliveries)
                    .where(
                        deliveries.c.job_id == job_id, deliveries.c.state != DeliveryState.PENDING
                    )
                    .values(
                        state=DeliveryState.PENDING, attempts=0, next_run_at=now, updated_at=now
                    )
                    .returning(deliveries.c.id, deliveries.c.job_id)
                )
            ).all()
            await _record_redelivery(conn, again, reason="redeliver", at=now)
            await self.db.notify_work(conn)
        return await self.list_deliveries(job_id)

    async def replay_dead(self, *, client_id: str, since: float, until: float, now: float) -> int:
        """Make every dead delivery of a client created in [since, until) due again."""
        async with self.db.write() as conn:
            again = (
                await conn.execute(
                    sa.update(deliveries)
                    .where(
                        deliveries.c.client_id == client_id,
                        deliveries.c.state == DeliveryState.DEAD,
                        deliveries.c.created_at >= since,
                        deliveries.c.created_at < until,
                    )
                    .values(
                        state=DeliveryState.PENDING, attempts=0, next_run_at=now, updated_at=now
                    )
                    .returning(deliveries.c.id, deliveries.c.job_id)
                )
            ).all()
            if again:
                await _record_redelivery(conn, again, reason="replay", at=now)
                await self.db.notify_work(conn)
        return len(again)

    # --- figures for metrics ------------------------------------------------------------

    async def count_jobs_by_status(self) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        async with self.db.read() as conn:
            return {status: int(n) for status, n in (await conn.execute(query)).all()}

    async def count_deliveries_by_state(self) -> dict[str, int]:
        query = sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
        async with self.db.read() as conn:
            return {state: int(n) for state, n in (await conn.execute(query)).all()}

    async def count_takeovers(self) -> int:
        total = 0
        async with self.db.read() as conn:
            for table in (jobs, deliveries):
                value = (await conn.execute(sa.select(sa.func.sum(table.c.takeovers)))).scalar_one()
                total += int(value or 0)
        return total

    async def oldest_due(self, *, now: float) -> float | None:
        """The ``next_run_at`` of the oldest unclaimed due item (jobs or deliveries), if any."""
        return await self.earliest_due(now=now, until=now)

    async def earliest_due(self, *, now: float, until: float) -> float | None:
        """The earliest ``next_run_at`` up to ``until`` of an item (job or delivery) that no
        live lease holds; None if there is none."""
        earliest: float | None = None
        async with self.db.read() as conn:
            for table in (jobs, deliveries):
                value = (
                    await conn.execute(
                        sa.select(sa.func.min(table.c.next_run_at)).where(
                            table.c.next_run_at <= until,
                            sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now),
                        )
                    )
                ).scalar_one()
                if value is not None and (earliest is None or value < earliest):
                    earliest = float(value)
        return earliest
