"""A delivery's slot is free as soon as its receiver has answered: the next delivery is sent
while the attempt before it is still being written. While more deliveries are due than their
slots hold, polls keep a quarter of their slots."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import Generation
from gateway.settings import Settings
from gateway.store.deliveries import AttemptWrite
from gateway.store.group_commit import GroupCommit
from gateway.testing.waiting import wait_for_async
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings
from tests.worker.due_webhooks import finished_jobs


class Answering:
    """Every receiver answers 200 at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append(url)
        return AttemptResult(status_code=200, latency_ms=1.0, response_excerpt="ok")


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One delivery at a time: a second is sent only once the first's slot is free.
    return make_settings(database_url, delivery_concurrency=1, max_concurrency=8)


async def test_the_next_delivery_is_sent_while_the_attempt_before_is_written(
    harness: Harness,
) -> None:
    rt = harness.runtime
    a_jobs, b_job = await finished_jobs(harness, ["https://a.test/1", "https://a.test/2"])
    written = asyncio.Event()
    record = harness.store.deliveries.record_attempts

    async def held(writes: Sequence[AttemptWrite]) -> list[bool]:
        await written.wait()
        return await record(writes)

    harness.store.attempt_writes = GroupCommit(held)
    sender = Answering()
    worker = Worker(dataclasses.replace(rt, sender=sender))
    try:
        await worker.tick()
        # With no attempt written yet, all three have been sent, one slot at a time.
        await wait_for_async(lambda: len(sender.sent) == 3, timeout_s=10.0)
        assert [] == [
            a
            for j in [*a_jobs, b_job]
            for a in await harness.store.deliveries.attempts_for_job(j.id)
        ]
        written.set()
        await worker.stop(grace_s=5.0)
        states = [
            d.state for j in [*a_jobs, b_job] for d in await harness.store.deliveries.for_job(j.id)
        ]
        assert ["delivered"] * 3 == states
    finally:
        written.set()
        await worker.stop(grace_s=5.0)


class Hanging:
    """Receivers and the upstream's polls that do not answer until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append(url)
        await self.release.wait()
        return AttemptResult(status_code=200, latency_ms=1.0, response_excerpt="ok")


async def test_polls_keep_a_quarter_of_their_slots_while_deliveries_crowd(
    harness: Harness,
) -> None:
    """Three webhooks due for one delivery slot and eight polls due for eight job slots: one
    tick starts one delivery and only two polls (a quarter of the job slots)."""
    rt = harness.runtime
    await finished_jobs(harness, ["https://a.test/1", "https://a.test/2"])
    polling = [await harness.accept() for _ in range(8)]
    no_deliveries = Worker(
        dataclasses.replace(rt, settings=rt.settings.with_(delivery_concurrency=0))
    )
    await no_deliveries.run_until_idle()  # submitted: each waits for its first poll
    assert {"queued"} == {(await harness.job(j.id)).status for j in polling}
    harness.clock.advance(60)  # every first poll is due (well inside the deadline)
    hanging = Hanging()
    polls_before = len(harness.upstream.polled)

    async def held_fetch(generation_id: str, *, request_id: str) -> Any:
        harness.upstream.polled.append((generation_id, request_id))
        await hanging.release.wait()
        return Generation(id=generation_id, status="generating")

    harness.upstream.fetch = held_fetch  # type: ignore[method-assign]
    worker = Worker(
        dataclasses.replace(rt, sender=hanging, settings=rt.settings.with_(tick_interval_s=0.05))
    )
    try:
        assert 3 == await worker.tick()  # one delivery and two polls started
        # The tick has started its tasks; let them reach the receiver and the upstream (no
        # other tick runs: the worker's scheduler was never started), then count exactly.
        await wait_for_async(
            lambda: hanging.sent and len(harness.upstream.polled) - polls_before >= 2,
            timeout_s=10.0,
            what="the started delivery and polls to call out",
        )
        assert 1 == len(hanging.sent)
        assert 2 == len(harness.upstream.polled) - polls_before
    finally:
        hanging.release.set()
        await worker.stop(grace_s=5.0)
