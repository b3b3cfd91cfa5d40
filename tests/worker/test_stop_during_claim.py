"""Graceful stop while a tick is in the middle of a claim: the rows that claim leased are
started and finished (or given back), never left leased by a process that has stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.store.records import JobRecord
from gateway.worker.ticker import Worker
from tests.harness import Harness


async def test_stop_during_a_claim_leaves_no_lease_held(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await harness.accept()
    jobs_store = harness.runtime.store.jobs
    claim_jobs = jobs_store.claim_jobs
    leased, go_on = asyncio.Event(), asyncio.Event()

    async def slow_claim(**kwargs: Any) -> Sequence[JobRecord]:
        claimed = await claim_jobs(**kwargs)  # the rows are leased in the database now
        leased.set()
        await go_on.wait()
        return claimed

    monkeypatch.setattr(jobs_store, "claim_jobs", slow_claim)
    worker = Worker(harness.runtime)
    tick = asyncio.ensure_future(worker.tick())
    await asyncio.wait_for(leased.wait(), timeout=10.0)

    stopping = asyncio.ensure_future(worker.stop(grace_s=10.0))
    go_on.set()  # the claim returns to a worker that is stopping
    await asyncio.wait_for(stopping, timeout=20.0)

    after = await harness.job(job.id)
    # The claimed job was submitted within the grace (or its lease given back), and the
    # tick had ended before stop returned.
    assert (None, "queued", True) == (after.lease_token, after.status, tick.done())
