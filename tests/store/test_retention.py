"""Retention's SQL (``gateway.store.retention``): what a batch removes, and what it leaves.

A job's records go together (the job, its deliveries, their attempts, its history) once it
finished before the cut-off and none of its webhook events is still owed; nothing unfinished,
owed, leased or too recent is touched. Batches are bounded; two sweepers at once share the work.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from gateway.domain.delivery import DeliveryState
from gateway.store import Store
from gateway.store.deliveries import AttemptWrite
from gateway.store.records import JobRecord
from gateway.store.retention import Removed
from gateway.store.schema import deliveries, delivery_attempts, job_events, jobs
from tests.backends import OpenStore
from tests.store.builders import (
    LEASE_S,
    T0,
    add_client,
    add_deliveries,
    add_job,
    attempt,
    claim_deliveries,
    delivery_change,
    next_id,
)

CUT_OFF = T0 + 1000.0  # jobs finished before this are due
LATER = CUT_OFF + 10.0  # "now" for the removals


async def settle(store: Store, job: JobRecord, state: DeliveryState, *, at: float) -> None:
    """One attempt on each of ``job``'s pending deliveries, ending it in ``state``."""
    token = next_id("lease")
    claimed = await claim_deliveries(
        store, now=at, limit=1000, token=token, lease_until=at + LEASE_S
    )
    writes = []
    for delivery in claimed:
        if delivery.job_id != job.id:
            continue
        change = delivery_change(state=state, attempts=1, last_status_code=200)
        made = attempt(delivery.id, 1, at=at)
        writes.append(AttemptWrite(token, made, change, at))
    assert all(await store.deliveries.record_attempts(writes))


async def finished(
    store: Store, *, at: float = T0, events: int = 1, state: DeliveryState | None = None
) -> JobRecord:
    """A job finished at ``at`` with ``events`` deliveries, each settled in ``state`` (None:
    left pending)."""
    job = await add_job(store, now=at)
    await add_deliveries(store, job, events, now=at)
    if state is not None:
        await settle(store, job, state, at=at)
    return job


async def rows_of(store: Store, job_id: str) -> tuple[int, int, int, int]:
    """The job's rows in jobs, deliveries, delivery_attempts and job_events."""
    async with store.db.read() as conn:
        delivery_ids = sa.select(deliveries.c.id).where(deliveries.c.job_id == job_id)
        counts = []
        for query in (
            sa.select(sa.func.count()).select_from(jobs).where(jobs.c.id == job_id),
            sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.job_id == job_id),
            sa.select(sa.func.count())
            .select_from(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(delivery_ids)),
            sa.select(sa.func.count()).select_from(job_events).where(job_events.c.job_id == job_id),
        ):
            counts.append(int((await conn.execute(query)).scalar_one()))
    return counts[0], counts[1], counts[2], counts[3]


async def remove(store: Store, limit: int = 100) -> Removed:
    return await store.retention.remove_finished(finished_before=CUT_OFF, now=LATER, limit=limit)


async def test_a_batch_removes_exactly_the_jobs_past_retention_that_owe_nothing(
    store: Store,
) -> None:
    """Finished before the cut-off with every event delivered, dead or gone (or none at all):
    removed with every row of theirs. Still owed an event, unfinished, or finished too
    recently: untouched."""
    await add_client(store)
    delivered = await finished(store, events=2, state=DeliveryState.DELIVERED)
    dead = await finished(store, state=DeliveryState.DEAD)
    gone = await finished(store, state=DeliveryState.GONE)
    no_events = await finished(store, events=0)
    owed = await finished(store, state=None)  # finished long ago, its webhook still pending
    recent = await finished(store, at=CUT_OFF + 1, state=DeliveryState.DELIVERED)
    unfinished = await add_job(store, now=T0)
    kept = [owed, recent, unfinished]
    kept_rows = [await rows_of(store, job.id) for job in kept]
    assert (1, 2, 2) == (await rows_of(store, delivered.id))[:3]

    removed = await remove(store)

    assert Removed(jobs=4, deliveries=4, delivery_attempts=4, job_events=removed.job_events) == (
        removed
    )
    assert removed.job_events >= 8  # accepted and completed, at least, for each of the four
    for job in (delivered, dead, gone, no_events):
        assert (0, 0, 0, 0) == await rows_of(store, job.id)
        assert await store.jobs.get_job(job.id) is None
    assert kept_rows == [await rows_of(store, job.id) for job in kept]
    assert Removed() == await remove(store)


async def test_a_job_owed_a_redelivery_stays_until_it_is_settled(store: Store) -> None:
    """A redelivery makes a delivered event owed again: the job stays while it is pending, and
    goes once it is delivered again."""
    await add_client(store)
    job = await finished(store, state=DeliveryState.DELIVERED)
    await store.deliveries.redeliver(job.id, now=T0 + 5)

    assert Removed() == await remove(store)
    await settle(store, job, DeliveryState.DELIVERED, at=T0 + 6)
    assert 1 == (await remove(store)).jobs


async def test_a_leased_or_due_finished_job_is_left_alone(store: Store) -> None:
    """A finished job some worker still holds (a live lease) or has due work on is not removed
    under it."""
    await add_client(store)
    job = await finished(store, state=DeliveryState.DELIVERED)
    async with store.db.write() as conn:
        await conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job.id)
            .values(lease_token="someone", lease_until=LATER + 5)
        )
    assert Removed() == await remove(store)
    async with store.db.write() as conn:
        await conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job.id)
            .values(lease_token=None, lease_until=None, next_run_at=T0)
        )
    assert Removed() == await remove(store)


async def test_batches_are_bounded_and_oldest_first(store: Store) -> None:
    """Five due jobs, batches of two: 2, 2, 1, then nothing; the oldest ends go first."""
    await add_client(store)
    made = [await finished(store, at=T0 + i, state=DeliveryState.DELIVERED) for i in range(5)]

    first = await remove(store, limit=2)
    left = [job.id for job in made if await store.jobs.get_job(job.id) is not None]
    counts = [first.jobs] + [(await remove(store, limit=2)).jobs for _ in range(3)]

    assert [job.id for job in made[2:]] == left
    assert [2, 2, 1, 0] == counts


async def test_two_sweepers_at_once_share_the_work_without_failing(
    store: Store, open_store: OpenStore
) -> None:
    """Two stores (two replicas) removing at once: neither fails, every due job is removed
    exactly once between them."""
    await add_client(store)
    for i in range(12):
        await finished(store, at=T0 + i, state=DeliveryState.DELIVERED)
    other = await open_store()

    async def drain(one: Store) -> int:
        total = 0
        while (batch := await remove(one, limit=3)).jobs:
            total += batch.jobs
        return total

    totals = await asyncio.gather(drain(store), drain(other))

    assert 12 == sum(totals)
    assert {"jobs": 0, "deliveries": 0, "delivery_attempts": 0, "job_events": 0} == (
        await store.retention.count_rows()
    )


async def test_rows_and_size_are_counted(store: Store) -> None:
    """The gauges' figures: rows per table, and a database size that is more than nothing."""
    await add_client(store)
    await finished(store, events=2, state=DeliveryState.DELIVERED)

    counts = await store.retention.count_rows()
    size = await store.retention.size()

    assert (1, 2, 2) == (counts["jobs"], counts["deliveries"], counts["delivery_attempts"])
    assert counts["job_events"] >= 2
    assert size.total_bytes > 0
    assert 0 <= size.free_bytes < size.total_bytes


async def test_sqlite_reuses_the_pages_removals_free(store: Store) -> None:
    """SQLite: removed rows' pages go to the freelist, and new rows fill them before the file
    grows again."""
    if not store.db.is_sqlite:
        pytest.skip("SQLite's freelist; PostgreSQL's free space map is its own")
    await add_client(store)
    for i in range(150):
        await finished(store, at=T0 + i, events=2, state=DeliveryState.DELIVERED)
    while (await remove(store, limit=100)).jobs:
        pass
    freed = await store.retention.size()
    assert freed.free_bytes > 0

    for i in range(30):
        await finished(store, at=CUT_OFF + i, events=2, state=DeliveryState.DELIVERED)
    refilled = await store.retention.size()

    assert freed.total_bytes == refilled.total_bytes
    assert refilled.free_bytes < freed.free_bytes
