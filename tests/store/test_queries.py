"""Reads: job listing with cursor pagination, per-client counts, and the figures for metrics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.store import Store
from gateway.store.records import JobRecord
from gateway.store.schema import jobs
from tests.store.builders import LEASE_S, T0, add_client, add_deliveries, add_job


async def arrange(store: Store, job: JobRecord, **values: Any) -> None:
    """Set columns of a job directly (arranging a scene, not exercising the fenced path)."""
    async with store.db.write() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == job.id).values(**values))


async def page_through(store: Store, client_id: str, size: int, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    before: tuple[float, str] | None = None
    while True:
        page = await store.jobs.list_jobs(client_id=client_id, limit=size, before=before, **filters)
        if not page:
            return pages
        pages.append([job.id for job in page])
        before = (page[-1].created_at, page[-1].id)


async def test_list_is_newest_first_and_filters_by_status(store: Store) -> None:
    """Jobs are listed newest first; a status filter keeps only that status."""
    await add_client(store)
    made = [await add_job(store, now=T0 + n) for n in range(4)]
    await arrange(store, made[1], status="completed")
    await arrange(store, made[3], status="completed")

    listed = await store.jobs.list_jobs(client_id="cli_a")
    completed = await store.jobs.list_jobs(client_id="cli_a", status="completed")

    assert [job.id for job in reversed(made)] == [job.id for job in listed]
    assert [made[3].id, made[1].id] == [job.id for job in completed]


async def test_cursor_pages_have_no_gaps_or_duplicates(store: Store) -> None:
    """Seven jobs (three with one ``created_at``) in pages of three: each once, in order."""
    await add_client(store)
    times = [T0, T0 + 1, T0 + 1, T0 + 1, T0 + 2, T0 + 3, T0 + 3]
    made = [await add_job(store, now=at) for at in times]
    expected = [job.id for job in sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)]

    pages = await page_through(store, "cli_a", 3)

    assert [3, 3, 1] == [len(page) for page in pages]
    assert expected == [job_id for page in pages for job_id in page]


async def test_cursor_pages_with_a_status_filter(store: Store) -> None:
    """Pagination and the status filter combine: only matching jobs, each once."""
    await add_client(store)
    made = [await add_job(store, now=T0 + n // 2) for n in range(7)]
    for job in made[::2]:
        await arrange(store, job, status="failed")
    expected = [job.id for job in sorted(made[::2], key=lambda j: (j.created_at, j.id))][::-1]

    pages = await page_through(store, "cli_a", 3, status="failed")

    assert expected == [job_id for page in pages for job_id in page]


async def test_clients_see_only_their_own_jobs(store: Store) -> None:
    """Listing, lookup with a client id and counting never cross clients."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    mine = await add_job(store, "cli_a")
    theirs = await add_job(store, "cli_b")

    assert [mine.id] == [job.id for job in await store.jobs.list_jobs(client_id="cli_a")]
    assert [theirs.id] == [job.id for job in await store.jobs.list_jobs(client_id="cli_b")]
    assert None is await store.jobs.get_job(theirs.id, client_id="cli_a")
    assert theirs == await store.jobs.get_job(theirs.id, client_id="cli_b")
    assert None is await store.jobs.get_job("job_missing")


async def test_count_in_flight_counts_unfinished_jobs_of_one_client(store: Store) -> None:
    """Every non-terminal status counts; completed and failed do not; other clients do not."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    for status in ("accepted", "submitting", "queued", "generating", "completed", "failed"):
        job = await add_job(store, "cli_a")
        await arrange(store, job, status=status)
    await add_job(store, "cli_b")

    assert (4, 1) == (
        await store.jobs.count_in_flight("cli_a"),
        await store.jobs.count_in_flight("cli_b"),
    )


async def test_counts_by_status_and_by_delivery_state(store: Store) -> None:
    """The metric figures count every job by status and every delivery by state."""
    await add_client(store)
    assert ({}, {}) == (
        await store.jobs.count_jobs_by_status(),
        await store.deliveries.count_by_state(),
    )
    await add_job(store)
    await add_job(store)
    queued = await add_job(store)
    await arrange(store, queued, status="queued")
    done = await add_job(store)
    await arrange(store, done, next_run_at=T0 + 500)
    await add_deliveries(store, done, 2, now=T0 + 500)

    assert {"accepted": 2, "queued": 1, "completed": 1} == await store.jobs.count_jobs_by_status()
    assert {"pending": 2} == await store.deliveries.count_by_state()


async def test_oldest_due_spans_jobs_and_deliveries_and_skips_leased(store: Store) -> None:
    """The oldest unclaimed due ``next_run_at`` over both queues; leased and future rows ignored."""
    await add_client(store)
    assert None is await store.work.earliest_due(now=T0, until=T0)
    await add_job(store, now=T0 - 50)  # leased just below
    await store.jobs.claim_jobs(now=T0, limit=10, token="lease_x", lease_until=T0 + LEASE_S)
    await add_job(store, now=T0 + 5)  # not due yet at T0
    assert None is await store.work.earliest_due(now=T0, until=T0)

    job = await add_job(store, now=T0 - 20)
    await add_deliveries(store, job, now=T0 - 30)  # the job is finished; its delivery is due
    assert T0 - 30 == await store.work.earliest_due(now=T0, until=T0)
    assert T0 - 50 == await store.work.earliest_due(
        now=T0 + LEASE_S + 1, until=T0 + LEASE_S + 1
    )  # lease expired
