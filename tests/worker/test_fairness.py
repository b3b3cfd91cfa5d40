"""One client's hanging receivers cannot starve another client: deliveries have capacity of
their own, each client a share of it, each destination a cap."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.settings import Settings
from gateway.testing.waiting import wait_for_async
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings
from tests.worker.due_webhooks import finished_jobs

COMPLETED_URL = "https://cdn.test/v.mp4"


class HangingSender:
    """Receivers under ``hang_prefix`` never answer (until released); others answer 200."""

    def __init__(self, hang_prefix: str) -> None:
        self.hang_prefix = hang_prefix
        self.release = asyncio.Event()
        self.sent: list[str] = []
        self.answered = asyncio.Event()

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append(url)
        if url.startswith(self.hang_prefix):
            await self.release.wait()
            return AttemptResult(status_code=None, latency_ms=1.0, error="timeout")
        self.answered.set()
        return AttemptResult(status_code=200, latency_ms=1.0, response_excerpt="ok")


def a_sent(sender: HangingSender) -> list[str]:
    return [url for url in sender.sent if url.startswith("https://a.test")]


@contextlib.asynccontextmanager
async def one_tick_beside_hanging_a(harness: Harness) -> AsyncIterator[HangingSender]:
    """One tick with ``a.test``'s receivers hanging, once B's webhook is answered and two of A's
    are out; A's receivers are released and the worker stopped afterwards."""
    sender = HangingSender("https://a.test")
    worker = Worker(dataclasses.replace(harness.runtime, sender=sender))
    try:
        await worker.tick()
        await asyncio.wait_for(sender.answered.wait(), timeout=10.0)
        await wait_for_async(lambda: len(a_sent(sender)) >= 2, timeout_s=10.0)
        yield sender
    finally:
        sender.release.set()
        await worker.stop(grace_s=5.0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        max_concurrency=2,
        delivery_concurrency=6,
        delivery_client_share=3,
        delivery_per_destination=2,
        # One client may fill a destination here: these tests pin the destination's cap (a
        # client's own cap there is pinned by tests/worker/test_shared_host.py).
        delivery_client_host_limit=2,
        tick_interval_s=0.05,
    )


async def test_another_clients_delivery_runs_on_the_next_tick(harness: Harness) -> None:
    """Client A has 8 due webhooks (8 URLs on one host) whose receiver hangs, client B one: the
    next tick claims and runs B's beside A's. The 8 URLs are one destination: A has 2 (its cap)
    out, and the other 6 are left due and unleased, never leased only to be given back."""
    a_jobs, b_job = await finished_jobs(harness, [f"https://a.test/hook/{n}" for n in range(8)])

    async with one_tick_beside_hanging_a(harness) as sender:
        a_deliveries = [d for j in a_jobs for d in await harness.store.deliveries.for_job(j.id)]
        [b_delivery] = await harness.store.deliveries.for_job(b_job.id)
        assert ["https://b.test/hook"] == [u for u in sender.sent if u.startswith("https://b")]
        assert 2 == len(a_sent(sender))
        assert 2 == sum(1 for d in a_deliveries if d.lease_token is not None)
        assert [] == [d for d in a_deliveries if d.next_run_at == harness.clock() + 1.0]
        assert "delivered" == b_delivery.state


async def test_a_busy_callback_urls_backlog_is_left_in_place(harness: Harness) -> None:
    """Client A's 8 webhooks go to one URL whose receiver hangs: the claim leases only as many
    as the destination's cap (2) allows, so none is leased and given back (no deferral), and
    B's webhook still runs."""
    a_jobs, b_job = await finished_jobs(harness, ["https://a.test/hook"] * 8)

    async with one_tick_beside_hanging_a(harness) as sender:
        a_deliveries = [d for j in a_jobs for d in await harness.store.deliveries.for_job(j.id)]
        [b_delivery] = await harness.store.deliveries.for_job(b_job.id)
        assert 2 == len(a_sent(sender))
        assert 2 == sum(1 for d in a_deliveries if d.lease_token is not None)
        assert [] == [d for d in a_deliveries if d.next_run_at == harness.clock() + 1.0]
        assert "delivered" == b_delivery.state
