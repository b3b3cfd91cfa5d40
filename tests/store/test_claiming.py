"""Claiming due work under a lease, lease expiry and takeover, and fenced writes."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from gateway.domain.fair_share import Rooms
from gateway.domain.jobs import JobStatus
from gateway.store import Store
from gateway.store.records import JobChange
from gateway.store.schema import deliveries
from tests.backends import OpenStore
from tests.store.builders import (
    LEASE_S,
    T0,
    add_client,
    add_deliveries,
    add_job,
    claim_deliveries,
    new_delivery,
)


async def claim_ids(store: Store, *, now: float, token: str, limit: int = 100) -> list[str]:
    claimed = await store.jobs.claim_jobs(
        now=now, limit=limit, token=token, lease_until=now + LEASE_S
    )
    assert [token] * len(claimed) == [job.lease_token for job in claimed]
    return sorted(job.id for job in claimed)


async def test_only_due_jobs_are_claimed(store: Store) -> None:
    """Jobs whose ``next_run_at`` is in the future, or unset, are not claimed."""
    await add_client(store)
    idle = await add_job(store, now=T0)
    assert [idle.id] == await claim_ids(store, now=T0, token="lease_idle")
    assert await store.jobs.update_job(idle.id, "lease_idle", JobChange(next_run_at=None), now=T0)
    due = await add_job(store, now=T0)
    await add_job(store, now=T0 + 10)  # due later

    assert [due.id] == await claim_ids(store, now=T0 + 5, token="lease_1")


async def test_a_claim_writes_the_lease(store: Store) -> None:
    """The claimed row carries the claimer's token and lease end, as returned and as stored."""
    await add_client(store)
    job = await add_job(store)
    [claimed] = await store.jobs.claim_jobs(
        now=T0, limit=10, token="lease_mine", lease_until=T0 + LEASE_S
    )

    assert ("lease_mine", T0 + LEASE_S, 0) == (
        claimed.lease_token,
        claimed.lease_until,
        claimed.takeovers,
    )
    assert claimed == await store.jobs.get_job(job.id)


async def test_a_leased_job_is_not_claimed_until_its_lease_expires(store: Store) -> None:
    """While the lease runs nobody else gets the job; after it ends the job is taken over."""
    await add_client(store)
    job = await add_job(store)
    assert [job.id] == await claim_ids(store, now=T0, token="lease_a")

    assert [] == await claim_ids(store, now=T0 + LEASE_S - 1, token="lease_b")
    assert [] == await claim_ids(store, now=T0 + LEASE_S, token="lease_b")  # ends strictly after
    assert [job.id] == await claim_ids(store, now=T0 + LEASE_S + 1, token="lease_b")

    taken = await store.jobs.get_job(job.id)
    assert taken is not None
    assert ("lease_b", 1) == (taken.lease_token, taken.takeovers)
    assert 1 == await store.work.count_takeovers()


async def test_a_released_job_is_claimed_again_without_a_takeover(store: Store) -> None:
    """Work given back (fenced update that stays due) is claimed again; no takeover counted."""
    await add_client(store)
    job = await add_job(store)
    await claim_ids(store, now=T0, token="lease_a")
    assert await store.jobs.update_job(job.id, "lease_a", JobChange(next_run_at=T0 + 5), now=T0 + 1)

    assert [job.id] == await claim_ids(store, now=T0 + 5, token="lease_b")
    assert 0 == await store.work.count_takeovers()


async def test_claim_respects_the_limit_and_takes_the_oldest_due_first(store: Store) -> None:
    """With more due than ``limit``, the claim takes the ``limit`` earliest ``next_run_at``."""
    await add_client(store)
    made = [await add_job(store, now=T0 + offset) for offset in (5, 1, 4, 2, 3, 0, 6)]
    by_due = [job.id for job in sorted(made, key=lambda job: job.next_run_at or 0)]

    first = await claim_ids(store, now=T0 + 10, token="lease_1", limit=3)
    second = await claim_ids(store, now=T0 + 10, token="lease_2", limit=3)
    third = await claim_ids(store, now=T0 + 10, token="lease_3", limit=3)

    assert (sorted(by_due[:3]), sorted(by_due[3:6]), sorted(by_due[6:])) == (first, second, third)


async def test_claim_limit_holds_with_many_due(store: Store) -> None:
    """A claim never returns more rows than ``limit``, however many are due."""
    await add_client(store)
    for _ in range(60):
        await add_job(store)

    sizes = [len(await claim_ids(store, now=T0, token=f"lease_{n}", limit=7)) for n in range(9)]

    assert [7, 7, 7, 7, 7, 7, 7, 7, 4] == sizes


async def test_concurrent_claimers_never_share_a_job(store: Store, open_store: OpenStore) -> None:
    """Two replicas draining one queue at once get disjoint sets that together cover it."""
    await add_client(store)
    total = 150
    for _ in range(total):
        await add_job(store)
    replicas = [await open_store(), await open_store()]

    async def drain(replica: Store, name: str) -> list[str]:
        got: list[str] = []
        for round_ in range(total):
            token = f"lease_{name}_{round_}"
            claimed = await replica.jobs.claim_jobs(
                now=T0, limit=5, token=token, lease_until=T0 + LEASE_S
            )
            if not claimed:
                break
            got += [job.id for job in claimed]
        return got

    first, second = await asyncio.gather(drain(replicas[0], "a"), drain(replicas[1], "b"))

    assert set() == set(first) & set(second)
    assert (total, total) == (len(first) + len(second), len(set(first) | set(second)))
    assert 0 == await store.work.count_takeovers()


async def test_concurrent_fair_claims_never_share_a_delivery(
    store: Store, open_store: OpenStore
) -> None:
    """Two replicas claiming deliveries within rooms at once (candidates read without locks,
    leased by a re-checked update) get disjoint sets that together cover the queue."""
    await add_client(store)
    total = 120
    for _ in range(4):
        await add_deliveries(store, await add_job(store), total // 4)
    replicas = [await open_store(), await open_store()]
    rooms = Rooms(per_client=1000, per_destination=1000)

    async def drain(replica: Store, name: str) -> list[str]:
        got: list[str] = []
        for round_ in range(total):
            claim = await replica.deliveries.claim(
                now=T0,
                limit=5,
                token=f"lease_{name}_{round_}",
                lease_until=T0 + LEASE_S,
                rooms=rooms,
            )
            got += [d.id for d in claim.deliveries]
            if not claim.deliveries and not claim.held_back:
                break
        return got

    first, second = await asyncio.gather(drain(replicas[0], "a"), drain(replicas[1], "b"))

    assert set() == set(first) & set(second)
    assert (total, total) == (len(first) + len(second), len(set(first) | set(second)))


async def test_a_stale_token_cannot_write(store: Store) -> None:
    """After a takeover the old holder's write returns False and changes nothing."""
    await add_client(store)
    job = await add_job(store)
    await claim_ids(store, now=T0, token="lease_old")
    await claim_ids(store, now=T0 + LEASE_S + 1, token="lease_new")
    before = await store.jobs.get_job(job.id)

    landed = await store.jobs.update_job(
        job.id,
        "lease_old",
        JobChange(status="completed", video_url="https://cdn.test/v.mp4"),
        now=T0 + 40,
        new_deliveries=[new_delivery(job)],
    )

    assert False is landed
    assert before == await store.jobs.get_job(job.id)
    assert [] == await store.deliveries.for_job(job.id)


async def test_the_current_token_writes_and_releases_the_lease(store: Store) -> None:
    """A write with the current token lands, sets ``updated_at`` and gives the lease back."""
    await add_client(store)
    job = await add_job(store)
    await claim_ids(store, now=T0, token="lease_now")

    landed = await store.jobs.update_job(
        job.id,
        "lease_now",
        JobChange(status="submitting", submit_attempts=1, next_run_at=T0 + 9),
        now=T0 + 2,
    )

    stored = await store.jobs.get_job(job.id)
    assert stored is not None
    assert (True, JobStatus.SUBMITTING, 1, T0 + 9, T0 + 2, None, None) == (
        landed,
        stored.status,
        stored.submit_attempts,
        stored.next_run_at,
        stored.updated_at,
        stored.lease_token,
        stored.lease_until,
    )
    assert False is await store.jobs.update_job(
        job.id, "lease_now", JobChange(poll_count=9), now=T0 + 3
    )


async def test_a_write_without_release_keeps_the_lease(store: Store) -> None:
    """``release=False`` lands the write and the holder may write again."""
    await add_client(store)
    job = await add_job(store)
    await claim_ids(store, now=T0, token="lease_keep")

    assert await store.jobs.update_job(
        job.id, "lease_keep", JobChange(status="submitting"), now=T0 + 1, release=False
    )
    assert await store.jobs.update_job(job.id, "lease_keep", JobChange(status="queued"), now=T0 + 2)
    stored = await store.jobs.get_job(job.id)
    assert stored is not None
    assert (JobStatus.QUEUED, None) == (stored.status, stored.lease_token)


async def test_deliveries_are_written_with_a_landed_update(store: Store) -> None:
    """A fenced update that lands inserts its deliveries pending and due now, in one go."""
    await add_client(store)
    job = await add_job(store)
    await claim_ids(store, now=T0, token="lease_done")
    made = new_delivery(job)

    assert await store.jobs.update_job(
        job.id, "lease_done", JobChange(status="completed"), now=T0 + 3, new_deliveries=[made]
    )

    [stored] = await store.deliveries.for_job(job.id)
    assert (made.id, made.payload, made.url, "pending", 0, T0 + 3, None) == (
        stored.id,
        stored.payload,
        stored.url,
        stored.state,
        stored.attempts,
        stored.next_run_at,
        stored.lease_token,
    )


async def test_renew_extends_only_the_given_tokens(store: Store) -> None:
    """Renewal moves ``lease_until`` of jobs and deliveries holding the tokens, nothing else."""
    await add_client(store)
    mine = await add_job(store)
    await claim_ids(store, now=T0, token="lease_mine")
    other = await add_job(store)
    await claim_ids(store, now=T0, token="lease_other")
    done = await add_job(store)
    await claim_ids(store, now=T0, token="lease_done")
    await store.jobs.update_job(
        done.id,
        "lease_done",
        JobChange(status="completed", next_run_at=None),
        now=T0,
        new_deliveries=[new_delivery(done)],
    )
    await claim_deliveries(store, now=T0, limit=10, token="lease_mine", lease_until=T0 + 1)

    renewed = await store.work.renew_leases(["lease_mine", "lease_unknown"], T0 + 100)

    jobs_after = [await store.jobs.get_job(job_id) for job_id in (mine.id, other.id)]
    [delivery] = await store.deliveries.for_job(done.id)
    assert 2 == renewed
    assert [T0 + 100, T0 + LEASE_S] == [job.lease_until for job in jobs_after if job]
    assert T0 + 100 == delivery.lease_until
    assert 0 == await store.work.renew_leases([], T0 + 200)


async def test_release_makes_work_due_again(store: Store) -> None:
    """Released leases are cleared on jobs and deliveries; the work is claimable at once."""
    await add_client(store)
    done = await add_job(store)
    assert [done.id] == await claim_ids(store, now=T0, token="lease_done")
    job = await add_job(store)
    await store.jobs.update_job(
        done.id,
        "lease_done",
        JobChange(status="completed", next_run_at=None),
        now=T0,
        new_deliveries=[new_delivery(done)],
    )
    assert [job.id] == await claim_ids(store, now=T0, token="lease_stop")
    await claim_deliveries(store, now=T0, limit=10, token="lease_stop", lease_until=T0 + 30)

    await store.work.release_leases(["lease_stop"])
    await store.work.release_leases([])

    async with store.db.read() as conn:
        leased = (
            await conn.execute(
                sa.select(deliveries.c.id).where(deliveries.c.lease_token.is_not(None))
            )
        ).all()
    assert [] == leased
    assert [job.id] == await claim_ids(store, now=T0 + 1, token="lease_next")
    assert 1 == len(
        await claim_deliveries(store, now=T0 + 1, limit=10, token="n", lease_until=T0 + 9)
    )
    assert 0 == await store.work.count_takeovers()
