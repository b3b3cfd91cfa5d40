"""The worker's routine fenced writes committed together: one transaction for the writes of
concurrent tasks, each still fenced by its lease token and answered on its own."""

from __future__ import annotations

import asyncio

from gateway.store import Store
from gateway.store.jobs import FencedJobWrite
from gateway.store.records import JobChange
from tests.backends import OpenStore
from tests.store.builders import LEASE_S, T0, add_client, add_job


async def _claimed(store: Store, count: int, token: str) -> list[str]:
    await add_client(store)
    for _ in range(count):
        await add_job(store, now=T0)
    claimed = await store.jobs.claim_jobs(
        now=T0, limit=count, token=token, lease_until=T0 + LEASE_S
    )
    assert len(claimed) == count
    return sorted(job.id for job in claimed)


async def test_concurrent_writes_commit_in_one_transaction(store: Store) -> None:
    """Writes made by tasks in the same moment share one commit; each lands with its own values
    and gives its lease back."""
    ids = await _claimed(store, 5, "lease_w")
    batcher = store.job_writes
    before = batcher.batches

    landed = await asyncio.gather(
        *(
            batcher.update(
                job_id,
                "lease_w",
                JobChange(poll_count=n + 1, next_run_at=T0 + 15 + n),
                now=T0 + 1,
            )
            for n, job_id in enumerate(ids)
        )
    )

    assert [True] * 5 == landed
    assert 1 == batcher.batches - before
    for n, job_id in enumerate(ids):
        job = await store.jobs.get_job(job_id)
        assert job is not None
        assert (n + 1, T0 + 15 + n, None, T0 + 1) == (
            job.poll_count,
            job.next_run_at,
            job.lease_token,
            job.updated_at,
        )


async def test_a_write_whose_lease_was_lost_is_refused_alone(store: Store) -> None:
    """In a batch, the row taken over by another claimer is not written and its caller hears
    so; the others in the same transaction land."""
    ids = await _claimed(store, 3, "lease_old")
    # The leases ran out and another claimer took the jobs over; this worker wrote the first
    # and last since (under the new token) but still holds the old one for the middle job.
    await store.work.release_leases(["lease_old"])
    taken = await store.jobs.claim_jobs(
        now=T0 + 1, limit=3, token="lease_new", lease_until=T0 + 1 + LEASE_S
    )
    assert len(taken) == 3
    writes = [
        FencedJobWrite(job_id, "lease_old" if n == 1 else "lease_new", JobChange(poll_count=7), T0)
        for n, job_id in enumerate(ids)
    ]

    landed = await store.jobs.update_jobs(writes)

    assert [True, False, True] == landed
    middle = await store.jobs.get_job(ids[1])
    assert middle is not None
    assert (0, "lease_new") == (middle.poll_count, middle.lease_token)
    for job_id in (ids[0], ids[2]):
        job = await store.jobs.get_job(job_id)
        assert job is not None
        assert (7, None) == (job.poll_count, job.lease_token)


async def test_the_batcher_reports_a_refused_fence_to_its_caller(store: Store) -> None:
    ids = await _claimed(store, 2, "lease_mine")

    mine, stale = await asyncio.gather(
        store.job_writes.update(ids[0], "lease_mine", JobChange(poll_count=1), now=T0),
        store.job_writes.update(ids[1], "lease_someone_else", JobChange(poll_count=1), now=T0),
    )

    assert (True, False) == (mine, stale)


async def test_keeping_the_lease_keeps_the_token(store: Store) -> None:
    (job_id,) = await _claimed(store, 1, "lease_keep")

    assert await store.job_writes.update(
        job_id, "lease_keep", JobChange(poll_count=2), now=T0, release=False
    )

    job = await store.jobs.get_job(job_id)
    assert job is not None
    assert ("lease_keep", 2) == (job.lease_token, job.poll_count)


async def test_batches_from_two_stores_on_one_database_do_not_deadlock(
    store: Store, open_store: OpenStore
) -> None:
    """Two replicas flushing overlapping sets of rows (one of them with stale tokens) and renewing
    leases at the same moment: the rows are locked in id order, so all of it completes."""
    ids = await _claimed(store, 40, "lease_a")
    other = await open_store()
    forward = [FencedJobWrite(i, "lease_a", JobChange(poll_count=1), T0, False) for i in ids]
    backward = [FencedJobWrite(i, "lease_b", JobChange(poll_count=2), T0) for i in reversed(ids)]

    results = await asyncio.wait_for(
        asyncio.gather(
            store.jobs.update_jobs(forward),
            other.jobs.update_jobs(backward),
            other.work.renew_leases(["lease_a"], T0 + 2 * LEASE_S),
        ),
        timeout=30,
    )

    assert [True] * 40 == results[0]
    assert [False] * 40 == results[1]


async def test_a_failed_batch_writes_nothing_and_every_caller_hears_it(store: Store) -> None:
    """The batch is one transaction: when it fails (here one write breaks a NOT NULL
    constraint), none of its rows changed and no caller is told its write landed."""
    ids = await _claimed(store, 3, "lease_f")
    broken = JobChange(poll_count=None)  # type: ignore[arg-type]  # the column is NOT NULL

    outcomes = await asyncio.gather(
        store.job_writes.update(ids[0], "lease_f", JobChange(poll_count=5), now=T0),
        store.job_writes.update(ids[1], "lease_f", broken, now=T0),
        store.job_writes.update(ids[2], "lease_f", JobChange(poll_count=5), now=T0),
        return_exceptions=True,
    )

    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    for job_id in ids:
        job = await store.jobs.get_job(job_id)
        assert job is not None
        assert (0, "lease_f") == (job.poll_count, job.lease_token)
    # The batcher carries on with the next writes.
    assert await store.job_writes.update(ids[0], "lease_f", JobChange(poll_count=1), now=T0)
