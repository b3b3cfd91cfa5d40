"""A wake while a tick is still claiming (deliveries held back, waiting for a slot) is served
by that tick: the scheduler would skip a tick brought forward while one runs, so new work
would wait for the end of the running one (most of a tick interval)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gateway.settings import Settings
from gateway.testing.waiting import wait_for_async, wait_until
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings
from tests.worker.due_webhooks import finished_jobs
from tests.worker.test_fairness import HangingSender

# A long tick: without the wake, the new job would wait about 0.8 times this for the tick to end.
TICK_S = 60.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        max_concurrency=2,
        delivery_concurrency=3,
        delivery_client_share=3,
        delivery_per_destination=2,
        tick_interval_s=TICK_S,
    )


def hanging(sender: HangingSender) -> list[str]:
    return [url for url in sender.sent if url.startswith("https://a")]


async def test_a_job_accepted_during_a_tick_is_claimed_by_that_tick(harness: Harness) -> None:
    # A's 8 webhooks to 8 hosts that hang: A fills every delivery slot (3) and 5 are held
    # back, so the tick keeps waiting for a slot to free.
    a_hosts = [f"https://a{n}.test/hook" for n in range(8)]
    await finished_jobs(harness, a_hosts)
    sender = HangingSender("https://a")
    worker = Worker(dataclasses.replace(harness.runtime, sender=sender))
    tick = asyncio.ensure_future(worker.tick())
    try:
        await wait_for_async(lambda: len(hanging(sender)) == 3, timeout_s=10.0)
        assert not tick.done()  # still waiting for room

        job = await harness.accept()
        worker.wake()
        harness.clock.advance(1.0)  # past the gap after the tick's last claim

        async def submitted() -> bool:
            return (await harness.job(job.id)).status != "accepted"

        await wait_until(submitted, timeout_s=10.0, what="the new job submitted by the tick")
        assert not tick.done()  # the same tick did it
    finally:
        sender.release.set()
        await worker.stop(grace_s=5.0)
        await asyncio.wait_for(tick, timeout=10.0)
