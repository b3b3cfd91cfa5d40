"""Replicas whose clocks disagree: on PostgreSQL leases and due times follow the database's clock,
so a replica ten minutes ahead cannot take over a live lease and one ten minutes behind does not
write leases that have already ended (issue 10, defect 4). SQLite serves one machine: the
runtime keeps the clock it was given."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.clock import CorrectedClock
from gateway.domain.upstream import UpstreamResult
from gateway.service.intake import accept_job
from gateway.service.runtime import Runtime, shared_clock
from gateway.store import Store
from gateway.store.records import JobRecord
from gateway.testing.fakes import ScriptedUpstream
from gateway.worker.ticker import Worker
from tests.harness import Harness

SKEW_S = 600.0


class HeldUpstream(ScriptedUpstream):
    """Holds every submit until released: the claimed job stays under its lease meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult:
        result = await super().submit(body, request_id=request_id)
        await self.release.wait()
        return result


@pytest.fixture
async def stores(harness: Harness) -> AsyncIterator[list[Store]]:
    if harness.store.db.is_sqlite:
        pytest.skip("SQLite serves one machine: there is no other replica's clock")
    opened = [await Store.open(harness.runtime.settings.database_url) for _ in range(2)]
    yield opened
    for store in opened:
        await store.close()


async def _replica(
    harness: Harness, store: Store, local: Callable[[], float]
) -> tuple[Runtime, Worker, HeldUpstream]:
    upstream = HeldUpstream()
    runtime = dataclasses.replace(
        harness.runtime,
        store=store,
        upstream=upstream,
        clock=await shared_clock(store, harness.runtime.settings, local),
    )
    return runtime, Worker(runtime), upstream


async def _job(store: Store, job_id: str) -> JobRecord:
    job = await store.jobs.get_job(job_id)
    assert job is not None
    return job


def _skewed(seconds: float) -> Callable[[], float]:
    return lambda: time.time() + seconds


async def test_a_replica_ahead_does_not_take_over_a_live_lease(
    harness: Harness, stores: list[Store]
) -> None:
    lease_s = harness.runtime.settings.lease_s
    rt_a, worker_a, upstream_a = await _replica(harness, stores[0], time.time)
    _, worker_ahead, upstream_ahead = await _replica(harness, stores[1], _skewed(SKEW_S))
    job = (await accept_job(rt_a, harness.client, {"prompt": "a horse"})).job
    assert 1 == await worker_a.tick()  # A holds the job (its submit is held)
    await upstream_a.wait_for_calls(submits=1, timeout_s=10)

    # By its own clock, A's lease ended nine minutes ago; by the database's it runs.
    assert 0 == await worker_ahead.tick()

    held = await _job(stores[0], job.id)
    assert held.lease_until is not None
    assert abs(held.lease_until - (time.time() + lease_s)) < 10
    assert (0, []) == (held.takeovers, upstream_ahead.submitted)
    upstream_a.release.set()
    await worker_a.stop(grace_s=10)
    done = await _job(stores[0], job.id)
    assert (upstream_a.generation_id, None) == (done.generation_id, done.lease_token)


async def test_a_replica_behind_keeps_its_lease_and_schedules_by_the_database(
    harness: Harness, stores: list[Store]
) -> None:
    lease_s = harness.runtime.settings.lease_s
    rt_behind, worker_behind, upstream_behind = await _replica(harness, stores[0], _skewed(-SKEW_S))
    _, worker_a, upstream_a = await _replica(harness, stores[1], time.time)
    job = (await accept_job(rt_behind, harness.client, {"prompt": "a horse"})).job
    # Accepted by the database's time: due now, not ten minutes ago.
    assert abs((await _job(stores[0], job.id)).created_at - time.time()) < 10
    assert 1 == await worker_behind.tick()
    await upstream_behind.wait_for_calls(submits=1, timeout_s=10)

    # Its own clock would have written a lease that ended nine minutes ago.
    claimed = await _job(stores[0], job.id)
    assert claimed.lease_until is not None
    assert abs(claimed.lease_until - (time.time() + lease_s)) < 10
    assert 0 == await worker_a.tick()
    await worker_behind.renew_leases()
    renewed = await _job(stores[0], job.id)
    assert renewed.lease_until is not None
    assert abs(renewed.lease_until - (time.time() + lease_s)) < 10
    assert ([], 0) == (upstream_a.submitted, renewed.takeovers)

    # The work it finishes schedules its next poll by the database's clock too.
    upstream_behind.release.set()
    await worker_behind.stop(grace_s=10)
    polled_next = await _job(stores[0], job.id)
    assert polled_next.next_run_at is not None
    assert time.time() - 5 < polled_next.next_run_at < time.time() + 120
    assert polled_next.lease_token is None


async def test_sqlite_keeps_the_clock_it_was_given(harness: Harness) -> None:
    if not harness.store.db.is_sqlite:
        pytest.skip("SQLite's rule: this run is on PostgreSQL")
    local = _skewed(SKEW_S)

    clock = await shared_clock(harness.store, harness.runtime.settings, local)

    assert (clock, False) == (local, harness.store.db.clock_from_db)


async def test_postgres_with_a_local_lease_clock_keeps_the_clock_it_was_given(
    harness: Harness, stores: list[Store]
) -> None:
    local = _skewed(SKEW_S)
    settings = harness.runtime.settings.with_(lease_clock="local")

    assert local is await shared_clock(stores[0], settings, local)
    corrected = await shared_clock(stores[1], harness.runtime.settings, local)
    assert isinstance(corrected, CorrectedClock)
    assert abs(corrected() - time.time()) < 10
