"""The retention sweeper (``gateway.worker.sweeper``) over a whole runtime, driven by a fake
clock: it removes the jobs whose retention has passed and that owe nothing, keeps the rest,
works in bounded batches, and counts what is left for the gauges. The job view says when."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.clock import iso
from gateway.domain.jobs import JobStatus
from gateway.domain.upstream import Generation
from gateway.service.jobs import Jobs
from gateway.settings import Settings
from gateway.worker.sweeper import Sweeper
from tests.harness import Harness, make_settings

RETENTION_S = 60.0
COMPLETED = Generation(
    id="gen_scripted_000000001", status="completed", video_url="https://cdn.test/v.mp4"
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The keys' lifetime shorter than the retention, so the retention is what counts.
    return make_settings(database_url, job_retention_s=RETENTION_S, idempotency_ttl_s=30.0)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def finish(harness: Harness, **fields: Any) -> str:
    """Accept a job and run it to its end (completed at the next poll) and its first webhook."""
    job = await harness.accept(**fields)
    harness.upstream.poll_script.append(COMPLETED)
    await harness.run()
    await harness.run(advance_s=15)
    assert JobStatus.COMPLETED == (await harness.job(job.id)).status
    return job.id


async def test_the_sweeper_removes_what_passed_retention_and_keeps_what_is_owed(
    harness: Harness,
) -> None:
    """Delivered long enough ago: removed. Finished even longer ago but its webhook owed again
    (a redelivery not yet made): kept. Unfinished: kept. The view said when, and says nothing
    for the owed one."""
    jobs = Jobs(harness.runtime, wake=lambda: None)
    owed = await finish(harness)  # finished first: its retention passes first
    delivered = await finish(harness)
    # Sent again on request, and not yet delivered (the worker does not run from here on).
    await harness.store.deliveries.redeliver(owed, now=harness.clock())
    unfinished = (await harness.accept()).id
    views = {job_id: await jobs.view(await harness.job(job_id)) for job_id in (delivered, owed)}
    finished_at = (await harness.job(delivered)).finished_at
    assert finished_at is not None
    assert (iso(finished_at + RETENTION_S), None) == (
        views[delivered].removes_at,
        views[owed].removes_at,
    )

    harness.clock.now = finished_at + RETENTION_S - 1
    sweeper = Sweeper(harness.runtime)
    assert 0 == (await sweeper.sweep()).removed["jobs"]
    harness.clock.advance(2)
    sweep = await sweeper.sweep()

    assert 1 == sweep.removed["jobs"]
    assert None is await harness.store.jobs.get_job(delivered)
    assert [] == await harness.store.deliveries.for_job(delivered)
    assert [] == await harness.store.history.list_for_job(delivered)
    for kept in (owed, unfinished):
        assert kept == (await harness.job(kept)).id
    registry = harness.runtime.metrics.registry
    assert 1 == sample(registry, "gateway_retention_removed_rows_total", table="jobs")
    assert 2 == sample(registry, "gateway_table_rows", table="jobs")
    assert 1 == sample(registry, "gateway_table_rows", table="deliveries")
    assert (sample(registry, "gateway_database_bytes") or 0) > 0


async def test_a_backlog_drains_in_bounded_batches_over_several_sweeps(harness: Harness) -> None:
    """Five due jobs, batches of two and two batches a sweep: 4, then 1, then nothing, each
    sweep at most its batches."""
    for _ in range(5):
        await finish(harness)
    harness.clock.advance(RETENTION_S + 1)
    sweeper = Sweeper(harness.runtime, batch=2, max_batches=2)

    sweeps = [await sweeper.sweep() for _ in range(3)]

    assert [(2, 4), (1, 1), (1, 0)] == [(s.batches, s.removed["jobs"]) for s in sweeps]
    assert 0 == sample(harness.runtime.metrics.registry, "gateway_table_rows", table="jobs")


async def test_a_stopped_sweeper_sweeps_no_more(harness: Harness) -> None:
    """Once the worker stops, a scheduled sweep that comes late does nothing (the store is
    closing), and nothing waits for one."""
    job_id = await finish(harness)
    harness.clock.advance(RETENTION_S + 1)
    sweeper = Sweeper(harness.runtime)

    sweeper.stop()
    await sweeper.run()
    await sweeper.idle()

    assert job_id == (await harness.job(job_id)).id
    assert 1 == (await Sweeper(harness.runtime).sweep()).removed["jobs"]
