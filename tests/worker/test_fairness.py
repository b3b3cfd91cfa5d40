"""One client's hanging receivers cannot starve another client: deliveries have capacity of
their own, each client a share of it, each destination a cap."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import Generation
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.settings import Settings
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings
from tests.waiting import wait_for_async

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


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        max_concurrency=2,
        delivery_concurrency=6,
        delivery_client_share=3,
        delivery_per_destination=2,
        tick_interval_s=0.05,
    )


async def test_another_clients_delivery_runs_on_the_next_tick(harness: Harness) -> None:
    """Client A has 8 due webhooks whose receiver hangs, client B one: the next tick claims and
    runs B's beside A's. A gets at most its share (3) claimed, and of those at most 2 (the
    destination's cap) attempted; the third is given back, due again, without an attempt."""
    rt = harness.runtime
    other = await create_client(harness.store, "b", now=harness.clock())
    b_client = await harness.store.clients.get(other.id)
    assert b_client is not None
    a_jobs = [await harness.accept(callback_url=f"https://a.test/hook/{n}") for n in range(8)]
    request = {"prompt": "a horse", "callback_url": "https://b.test/hook"}
    b_job = (await accept_job(rt, b_client, request)).job
    harness.upstream.poll_script.extend(
        [Generation(id="gen_scripted_000000001", status="completed", video_url=COMPLETED_URL)] * 9
    )
    # Submit and finish every job with no delivery capacity: nine webhooks are left due.
    no_deliveries = Worker(
        dataclasses.replace(rt, settings=rt.settings.with_(delivery_concurrency=0))
    )
    await no_deliveries.run_until_idle()
    harness.clock.advance(15)
    await no_deliveries.run_until_idle()
    assert {"completed"} == {(await harness.job(j.id)).status for j in [*a_jobs, b_job]}

    sender = HangingSender("https://a.test")
    worker = Worker(dataclasses.replace(rt, sender=sender))
    try:
        await worker.tick()
        await asyncio.wait_for(sender.answered.wait(), timeout=10.0)
        await wait_for_async(lambda: len(a_sent(sender)) >= 2, timeout_s=10.0)
        deferred = [
            d
            for j in a_jobs
            for d in await harness.store.deliveries.for_job(j.id)
            if d.next_run_at == harness.clock() + 1.0
        ]
        [b_delivery] = await harness.store.deliveries.for_job(b_job.id)
        assert ["https://b.test/hook"] == [u for u in sender.sent if u.startswith("https://b")]
        assert 2 == len(a_sent(sender))
        assert [0] == [d.attempts for d in deferred]
        assert "delivered" == b_delivery.state
    finally:
        sender.release.set()
        await worker.stop(grace_s=5.0)
