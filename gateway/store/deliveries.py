"""Webhook deliveries: one row per (job event, destination), claimed when due, each attempt
recorded with the move it caused (fenced, see ``gateway.store.work_queue``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.delivery import DeliveryState
from gateway.domain.fair_share import Candidate, Rooms, pick
from gateway.domain.history import JobEventKind
from gateway.store.database import Database
from gateway.store.history import NewJobEvent, record_events, record_job_events
from gateway.store.records import (
    AttemptRecord,
    DeliveryChange,
    DeliveryRecord,
    NewDelivery,
    attempt_from_row,
    delivery_from_row,
)
from gateway.store.schema import deliveries, delivery_attempts
from gateway.store.subscriptions import Outcome, record_outcomes
from gateway.store.work_queue import counted_takeover, fenced_update, unleased

_FENCED_UPDATE = fenced_update(deliveries)
_DUE_ORDER = (deliveries.c.next_run_at, deliveries.c.id)
# A fair claim's candidates, in due order: of each client's due rows, each URL's first few (one
# more than could go out, its share or cap, so that a URL with more due shows as held back), then
# the client's first of those (one URL's worth, which may all wait on a busy destination, plus a
# whole share). Enough that a client whose first rows wait on a full destination has others,
# while one client's backlog cannot crowd out the rest. In all, the claim's limit plus what the
# clients and destinations with deliveries out (those that may have no room) could put first.
_NOW: sa.BindParameter[float] = sa.bindparam("now")
_DUE_NOW = sa.and_(deliveries.c.next_run_at <= _NOW, unleased(deliveries, _NOW))
_BY_URL = (
    sa.select(
        deliveries.c.id,
        deliveries.c.client_id,
        deliveries.c.url,
        deliveries.c.next_run_at,
        sa.func.row_number()
        .over(partition_by=(deliveries.c.client_id, deliveries.c.url), order_by=_DUE_ORDER)
        .label("url_rank"),
    )
    .where(_DUE_NOW)
    .subquery()
)
_BY_CLIENT = (
    sa.select(
        _BY_URL.c.id,
        _BY_URL.c.client_id,
        _BY_URL.c.url,
        _BY_URL.c.next_run_at,
        sa.func.row_number()
        .over(partition_by=_BY_URL.c.client_id, order_by=(_BY_URL.c.next_run_at, _BY_URL.c.id))
        .label("client_rank"),
    )
    .where(_BY_URL.c.url_rank <= sa.bindparam("per_url"))
    .subquery()
)
_CANDIDATES = (
    sa.select(_BY_CLIENT.c.id, _BY_CLIENT.c.client_id, _BY_CLIENT.c.url)
    .where(_BY_CLIENT.c.client_rank <= sa.bindparam("per_client"))
    .order_by(_BY_CLIENT.c.next_run_at, _BY_CLIENT.c.id)
    .limit(sa.bindparam("count"))
)
_LEASE_PICKED = (
    sa.update(deliveries)
    .where(deliveries.c.id.in_(sa.bindparam("ids", expanding=True)), _DUE_NOW)
    .values(
        lease_token=sa.bindparam("new_token"),
        lease_until=sa.bindparam("new_lease_until"),
        takeovers=counted_takeover(deliveries),
    )
    .returning(*deliveries.c)
)
_INSERT_ATTEMPT = sa.insert(delivery_attempts)
# The rows of a batch of attempts, locked (PostgreSQL; SQLite has one writer) in id order: who
# holds each lease, and what its history row names.
_LOCK_TARGETS = (
    sa.select(
        deliveries.c.id,
        deliveries.c.lease_token,
        deliveries.c.job_id,
        deliveries.c.event_type,
        deliveries.c.url,
        deliveries.c.subscription_id,
    )
    .where(deliveries.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(deliveries.c.id)
    .with_for_update()
)


class DeliveryClaim(msgspec.Struct, frozen=True):
    """What ``claim`` leased, whether due deliveries were left for lack of room, and
    whether the claim's limit was that room (``gateway.domain.fair_share.Picked``)."""

    deliveries: list[DeliveryRecord]
    held_back: bool
    filled: bool = False


class AttemptWrite(msgspec.Struct, frozen=True):
    """One attempt made under ``token`` and the move it causes (``record_attempts``)."""

    token: str
    attempt: AttemptRecord
    change: DeliveryChange
    now: float


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
    """One history row per job whose deliveries were made due again (operational events have
    no job, so no history)."""
    by_job: dict[str, list[str]] = {}
    for delivery_id, job_id in rows:
        if job_id is not None:
            by_job.setdefault(job_id, []).append(delivery_id)
    for job_id, delivery_ids in sorted(by_job.items()):
        data = {"reason": reason, "delivery_ids": sorted(delivery_ids)}
        await record_events(
            conn, job_id, [NewJobEvent(JobEventKind.REDELIVERY_REQUESTED, data)], at=at
        )


def _outcome(target: Any, change: DeliveryChange, at: float) -> Outcome | None:
    """What an attempt means for its subscription's failure state (None: no subscription, or
    gone, which deactivates it anyway)."""
    if target.subscription_id is None:
        return None
    kind = {
        DeliveryState.DELIVERED: "delivered",
        DeliveryState.DEAD: "dead",
        DeliveryState.PENDING: "failed",
    }.get(change.state)
    return None if kind is None else Outcome(target.subscription_id, kind, at)


def _attempted(
    target: Any, record: AttemptRecord, change: DeliveryChange
) -> tuple[str, NewJobEvent, float]:
    """The history row of one attempt: its delivery's job, the attempt, and the decision."""
    data = {
        "delivery_id": record.delivery_id,
        "event_type": target.event_type,
        "url": target.url,
        "attempt": record.attempt,
        "status_code": record.status_code,
        "latency_ms": round(record.latency_ms, 1),
        "error": record.error,
        "response_excerpt": record.response_excerpt,
        "decision": "retry" if change.state == DeliveryState.PENDING else str(change.state),
        "lease_lost": record.lease_lost,
    }
    return target.job_id, NewJobEvent(JobEventKind.DELIVERY_ATTEMPTED, data), record.attempted_at


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- work ---------------------------------------------------------------------------

    async def claim(
        self, *, now: float, limit: int, token: str, lease_until: float, rooms: Rooms
    ) -> DeliveryClaim:
        """Lease up to ``limit`` due deliveries in due order, each client within its room and
        each destination within its room (``gateway.domain.fair_share``), so one client's
        backlog cannot take every slot and a busy destination's backlog is left in place rather
        than leased and given back. Candidates are each client's first few due rows, read
        without locks; the update re-checks that each is still due and unleased, so two
        replicas never both lease one row."""
        per_url = max(1, min(rooms.per_client, rooms.largest_cap)) + 1
        per_client = per_url + max(1, rooms.per_client)
        busy = len(rooms.client_room) + len(rooms.destination_room)
        bounds = {
            "now": now,
            # One more than could go out: a URL with more due than that shows as held back.
            "per_url": per_url,
            "per_client": per_client,
            # One more than the limit: more due than it shows as held back.
            "count": limit + 1 + per_client * busy,
        }
        async with self.db.write() as conn:
            candidates = await conn.execute(_CANDIDATES, bounds)
            picked = pick((Candidate(*row) for row in candidates), limit, rooms)
            if not picked.ids:
                return DeliveryClaim([], picked.held_back, picked.filled)
            rows = (
                await conn.execute(
                    _LEASE_PICKED,
                    {
                        "ids": picked.ids,
                        "now": now,
                        "new_token": token,
                        "new_lease_until": lease_until,
                    },
                )
            ).all()
        order = {delivery_id: n for n, delivery_id in enumerate(picked.ids)}
        leased = sorted((delivery_from_row(row) for row in rows), key=lambda d: order[d.id])
        return DeliveryClaim(leased, picked.held_back, picked.filled)

    async def defer(self, deferrals: Sequence[tuple[str, float]], token: str, *, now: float) -> int:
        """Give claimed deliveries back, each ``(id, until)`` due at ``until``, without an
        attempt (a destination busy or its circuit open), in one transaction. Fenced; returns
        how many were given back."""
        if not deferrals:
            return 0
        params = [
            _released(delivery_id, token, now, {"next_run_at": until})
            for delivery_id, until in deferrals
        ]
        async with self.db.write() as conn:
            result = await conn.execute(_FENCED_UPDATE, params)
        return result.rowcount

    async def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[bool]:
        """Log attempts and move their deliveries on, in one transaction (fenced; releases the
        leases); for each, whether its fenced write landed.

        An attempt that was made is a fact: it is recorded (with its history row) even when the
        lease was lost meanwhile, marked ``lease_lost``; only the delivery's state is then left
        to the replica that holds the lease now. The rows are locked first and a write whose
        token no longer holds its row is refused, exactly as a lone fenced UPDATE would refuse
        it; the rest are written with one ``executemany`` per set of columns, each still matched
        by id and token.
        """
        if not writes:
            return []
        async with self.db.write() as conn:
            ids = sorted({write.attempt.delivery_id for write in writes})
            targets = {row.id: row for row in await conn.execute(_LOCK_TARGETS, {"ids": ids})}
            landed = [targets[w.attempt.delivery_id].lease_token == w.token for w in writes]
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for write, ok in zip(writes, landed, strict=True):
                if ok:
                    values = _released(
                        write.attempt.delivery_id, write.token, write.now, write.change.fields()
                    )
                    groups.setdefault(tuple(sorted(values)), []).append(values)
            for params in groups.values():
                await conn.execute(_FENCED_UPDATE, params)
            records = [
                msgspec.structs.replace(write.attempt, lease_lost=not ok)
                for write, ok in zip(writes, landed, strict=True)
            ]
            await conn.execute(_INSERT_ATTEMPT, [msgspec.structs.asdict(r) for r in records])
            await record_job_events(
                conn,
                [
                    _attempted(targets[record.delivery_id], record, write.change)
                    for write, record in zip(writes, records, strict=True)
                    if targets[record.delivery_id].job_id is not None
                ],
            )
            outcomes = [
                _outcome(targets[write.attempt.delivery_id], write.change, write.now)
                for write, ok in zip(writes, landed, strict=True)
                if ok
            ]
            await record_outcomes(conn, [o for o in outcomes if o is not None])
        return landed

    async def insert_operational(
        self, new_deliveries: Sequence[NewDelivery], *, now: float
    ) -> None:
        """Deliveries without a job (operational events, test sends), due now, in a
        transaction of their own."""
        if not new_deliveries:
            return
        async with self.db.write() as conn:
            await insert_deliveries(conn, new_deliveries, now=now)
            await self.db.notify_work(conn)

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
                        state=DeliveryState.PENDING,
                        # A new round of the schedule; the attempts made so far stay counted.
                        attempts_before_round=deliveries.c.attempts,
                        next_run_at=now,
                        updated_at=now,
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
                        state=DeliveryState.PENDING,
                        # A new round of the schedule; the attempts made so far stay counted.
                        attempts_before_round=deliveries.c.attempts,
                        next_run_at=now,
                        updated_at=now,
                    )
                    .returning(deliveries.c.id, deliveries.c.job_id)
                )
            ).all()
            if again:
                await _record_redelivery(conn, again, reason="replay", at=now)
                await self.db.notify_work(conn)
        return len(again)
