"""Webhook deliveries: one row per (job event, destination), claimed when due, each attempt
recorded with the move it caused (fenced, see ``gateway.store.work_queue``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.delivery import DeliveryState
from gateway.domain.history import JobEventKind
from gateway.store.database import Database
from gateway.store.history import NewJobEvent, record_events
from gateway.store.records import (
    AttemptRecord,
    DeliveryChange,
    DeliveryRecord,
    NewDelivery,
    attempt_from_row,
    delivery_from_row,
)
from gateway.store.schema import deliveries, delivery_attempts
from gateway.store.work_queue import claim_due, fenced_update, lease_values, unleased

_FENCED_UPDATE = fenced_update(deliveries)
_INSERT_ATTEMPT = sa.insert(delivery_attempts)
_TARGET = sa.select(deliveries.c.job_id, deliveries.c.event_type, deliveries.c.url).where(
    deliveries.c.id == sa.bindparam("delivery_id")
)


def _released(delivery_id: str, token: str, now: float, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a fenced write of ``values`` that also gives the lease back."""
    return {
        **values,
        "updated_at": now,
        "lease_token": None,
        "lease_until": None,
        "match_id": delivery_id,
        "match_token": token,
    }


async def insert_deliveries(
    conn: AsyncConnection, new_deliveries: Sequence[NewDelivery], *, now: float
) -> None:
    """One pending delivery row per destination (the callback_url, each subscription), due now,
    in the caller's transaction (the job's status change that caused them)."""
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


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- work ---------------------------------------------------------------------------

    async def claim(
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
            statement = claim_due(
                deliveries, now=now, limit=limit, token=token, lease_until=lease_until
            )
            async with self.db.write() as conn:
                rows = (await conn.execute(statement)).all()
            return [delivery_from_row(row) for row in rows]
        ranked = (
            sa.select(
                deliveries.c.id,
                deliveries.c.next_run_at,
                sa.func.row_number()
                .over(partition_by=deliveries.c.client_id, order_by=deliveries.c.next_run_at)
                .label("rank"),
            )
            .where(deliveries.c.next_run_at <= now, unleased(deliveries, now))
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
                unleased(deliveries, now),
            )
            .values(**lease_values(deliveries, token, lease_until))
            .returning(*deliveries.c)
        )
        async with self.db.write() as conn:
            rows = (await conn.execute(claim)).all()
        return [delivery_from_row(row) for row in rows]

    async def defer(self, delivery_id: str, token: str, *, until: float, now: float) -> bool:
        """Give a claimed delivery back, due at ``until``, without an attempt (its destination
        is busy or its circuit is open). Fenced."""
        async with self.db.write() as conn:
            result = await conn.execute(
                _FENCED_UPDATE, _released(delivery_id, token, now, {"next_run_at": until})
            )
        return result.rowcount == 1

    async def record_attempt(
        self,
        delivery_id: str,
        token: str,
        attempt: AttemptRecord,
        change: DeliveryChange,
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
                _FENCED_UPDATE, _released(delivery_id, token, now, change.fields())
            )
            landed = result.rowcount == 1
            record = msgspec.structs.replace(attempt, lease_lost=not landed)
            await conn.execute(_INSERT_ATTEMPT, msgspec.structs.asdict(record))
            delivery = (await conn.execute(_TARGET, {"delivery_id": delivery_id})).one()
            data = {
                "delivery_id": delivery_id,
                "event_type": delivery.event_type,
                "url": delivery.url,
                "attempt": record.attempt,
                "status_code": record.status_code,
                "latency_ms": round(record.latency_ms, 1),
                "error": record.error,
                "response_excerpt": record.response_excerpt,
                "decision": "retry" if change.state == DeliveryState.PENDING else str(change.state),
                "lease_lost": record.lease_lost,
            }
            await record_events(
                conn,
                delivery.job_id,
                [NewJobEvent(JobEventKind.DELIVERY_ATTEMPTED, data)],
                at=record.attempted_at,
            )
        return landed

    # --- reads --------------------------------------------------------------------------

    async def for_job(self, job_id: str) -> list[DeliveryRecord]:
        query = (
            sa.select(deliveries)
            .where(deliveries.c.job_id == job_id)
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [delivery_from_row(row) for row in rows]

    async def attempts_for_job(self, job_id: str) -> list[AttemptRecord]:
        query = (
            sa.select(delivery_attempts)
            .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
            .where(deliveries.c.job_id == job_id)
            .order_by(delivery_attempts.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [attempt_from_row(row) for row in rows]

    async def count_by_state(self) -> dict[str, int]:
        query = sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
        async with self.db.read() as conn:
            return {state: int(n) for state, n in (await conn.execute(query)).all()}

    # --- sending again ------------------------------------------------------------------

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
        return await self.for_job(job_id)

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
