"""Claims sized to capacity: a claim fills every free slot, and once full the ticker claims
again when a quarter of the slots is free, not after every finished task."""

from __future__ import annotations

import asyncio
import collections

import pytest

from gateway.domain.upstream import UpstreamResult
from gateway.settings import Settings
from gateway.testing.fakes import ScriptedUpstream
from gateway.testing.waiting import wait_for_async
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings

SLOTS = 8


class GatedUpstream(ScriptedUpstream):
    """Each submit waits for a pass; ``let_through(n)`` lets ``n`` of them answer."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Semaphore(0)

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult:
        result = await super().submit(body, request_id=request_id)
        await self.gate.acquire()
        return result

    def let_through(self, count: int) -> None:
        for _ in range(count):
            self.gate.release()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A tick keeps claiming for 0.8 of its interval: long enough for the whole test.
    return make_settings(database_url, max_concurrency=SLOTS, tick_interval_s=60.0)


def _busy(harness: Harness) -> float | None:
    """Work items running in this replica, as ``/metrics`` says."""
    return harness.runtime.metrics.registry.get_sample_value("gateway_worker_in_flight")


async def test_a_full_worker_claims_again_at_a_quarter_free_not_per_task(
    harness: Harness,
) -> None:
    upstream = GatedUpstream()
    harness.runtime.upstream = upstream
    for _ in range(3 * SLOTS):
        await harness.accept()
    worker = Worker(harness.runtime)
    tick = asyncio.ensure_future(worker.tick())
    try:
        await upstream.wait_for_calls(submits=SLOTS, timeout_s=10)  # one claim filled the slots
        assert SLOTS == _busy(harness)

        upstream.let_through(1)  # one slot frees: a claim now would fetch one row
        await wait_for_async(lambda: _busy(harness) == SLOTS - 1, timeout_s=10, what="a slot")
        upstream.let_through(1)  # a quarter of the slots is free: one claim for both
        await upstream.wait_for_calls(submits=SLOTS + 2, timeout_s=10)
        await wait_for_async(lambda: _busy(harness) == SLOTS, timeout_s=10, what="full again")

        # Leases held, by token (each claim has its own): the first claim's (less the two jobs
        # that finished and gave theirs back), and one second claim for both freed slots.
        tokens = collections.Counter(
            job.lease_token
            for job in await harness.store.jobs.list_jobs(
                client_id=harness.client.id, limit=10 * SLOTS
            )
            if job.lease_token is not None
        )
        assert [SLOTS - 2, 2] == sorted(tokens.values(), reverse=True)
        assert SLOTS + 2 == len(upstream.submitted)
    finally:
        upstream.let_through(10 * SLOTS)
        await worker.stop(grace_s=10)
        tick.cancel()
        await asyncio.gather(tick, return_exceptions=True)
