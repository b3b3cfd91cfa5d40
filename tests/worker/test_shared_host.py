"""Tenants that share a receiver host stay isolated (issue 23): client B's receivers on A's host
fail, hang or answer slowly, and A's webhooks arrive as soon as when A is alone; B's circuit
still opens for B, and the host is down for everyone only when three clients fail there.

Counted in ticks of the worker on a fake clock (a second a tick), never in wall-clock time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.domain.fair_share import destination
from gateway.domain.upstream import Generation
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.settings import Settings
from gateway.store.records import ClientRecord, JobRecord
from gateway.testing.harness import Harness
from gateway.testing.waiting import wait_for_async, wait_until
from gateway.worker.ticker import Worker
from tests.harness import make_settings

HOST = "https://hooks.test"


class SharedHost:
    """One receiver host: paths answer 200 at once, but those under a prefix told otherwise
    (``fail``: 500 at once; ``hang``: never, until released; ``slow``: 200 once released)."""

    def __init__(self) -> None:
        self.behaviour: dict[str, str] = {}  # path prefix → fail | hang | slow
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append(url)
        prefix = url.removeprefix(HOST).split("/")[1]
        how = self.behaviour.get(prefix, "ok")
        if how == "fail":
            return AttemptResult(status_code=500, latency_ms=1.0, response_excerpt="down")
        if how in ("hang", "slow"):
            await self.release.wait()
            if how == "hang":
                return AttemptResult(status_code=None, latency_ms=15_000.0, error="timeout")
        return AttemptResult(status_code=200, latency_ms=1.0, response_excerpt="ok")


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The defaults that matter: 4 attempts at once per destination, 8 per client, 5 failures
    # open a client's circuit, 3 clients' open circuits take the host down. A tick's window
    # (80 % of it) is long enough for a few sequential answers on a loaded machine.
    return make_settings(database_url, tick_interval_s=5.0, delivery_concurrency=32)


async def client_named(harness: Harness, name: str) -> ClientRecord:
    credentials = await create_client(harness.store, name, now=harness.clock())
    client = await harness.store.clients.get(credentials.id)
    assert client is not None
    return client


async def due_webhooks(
    harness: Harness, client: ClientRecord, prefix: str, count: int
) -> list[JobRecord]:
    """``count`` jobs of ``client`` completed, their webhooks to the shared host left due."""
    rt = harness.runtime
    jobs = [
        (await accept_job(rt, client, {"prompt": "x", "callback_url": f"{HOST}/{prefix}/{n}"})).job
        for n in range(count)
    ]
    harness.upstream.poll_script.extend(
        [Generation(id="gen_scripted_000000001", status="completed", video_url="https://v.t/v")]
        * count
    )
    no_deliveries = Worker(
        dataclasses.replace(rt, settings=rt.settings.with_(delivery_concurrency=0))
    )
    await no_deliveries.run_until_idle()
    harness.clock.advance(15)
    await no_deliveries.run_until_idle()
    return jobs


async def attempts(harness: Harness, jobs: list[JobRecord]) -> tuple[int, int]:
    """(attempts recorded, deliveries delivered) of the webhooks of ``jobs``."""
    rows = [d for job in jobs for d in await harness.store.deliveries.for_job(job.id)]
    return sum(d.attempts for d in rows), sum(1 for d in rows if d.state == "delivered")


async def ticks_until_delivered(
    world: SharedWorld, jobs: list[JobRecord], prefix: str, *, most: int = 20
) -> int:
    """Tick (a fake second apart) until every webhook of ``jobs`` (sent under ``prefix``) was
    delivered; how many ticks it took."""
    harness = world.harness

    async def all_recorded() -> bool:
        sent = sum(1 for url in world.host.sent if url.startswith(f"{HOST}/{prefix}/"))
        return (await attempts(harness, jobs))[0] == sent

    for tick in range(1, most + 1):
        await world.worker.tick()
        # The attempts this tick started to the instant receiver land (bounded wait).
        await wait_until(all_recorded, timeout_s=10.0, what=f"{prefix}'s attempts recorded")
        if (await attempts(harness, jobs))[1] == len(jobs):
            return tick
        harness.clock.advance(1.0)
    raise AssertionError(f"not delivered within {most} ticks")


@dataclasses.dataclass
class SharedWorld:
    harness: Harness
    host: SharedHost
    worker: Worker


@contextlib.asynccontextmanager
async def shared_world(harness: Harness) -> AsyncIterator[SharedWorld]:
    host = SharedHost()
    worker = Worker(dataclasses.replace(harness.runtime, sender=host))
    try:
        yield SharedWorld(harness, host, worker)
    finally:
        host.release.set()
        await worker.stop(grace_s=5.0)


@pytest.mark.parametrize("b_receivers", ["fail", "hang", "slow"])
async def test_a_tenant_failing_hanging_or_slow_on_a_shared_host_costs_only_itself(
    harness: Harness, b_receivers: str
) -> None:
    """A's webhooks to the host take as many ticks beside B's trouble as alone (at most 1.5
    times as many)."""
    b = await client_named(harness, "b")
    async with shared_world(harness) as world:
        world.host.behaviour["b"] = b_receivers
        alone = await due_webhooks(harness, harness.client, "a1", 5)
        ticks_alone = await ticks_until_delivered(world, alone, "a1")

        await due_webhooks(harness, b, "b", 12)
        beside = await due_webhooks(harness, harness.client, "a2", 5)
        ticks_beside = await ticks_until_delivered(world, beside, "a2")

        assert ticks_beside <= 1.5 * ticks_alone, (ticks_alone, ticks_beside)
        b_sent = [url for url in world.host.sent if "/b/" in url]
        assert b_sent  # B was tried beside A, not simply starved
        if b_receivers == "fail":  # B's own circuit opened for B, and only for B
            target = destination(HOST)
            assert (
                "defer" == world.worker.work.circuits.admit(b.id, target, harness.clock()).verdict
            )
            assert (
                "send"
                == world.worker.work.circuits.admit(
                    harness.client.id, target, harness.clock()
                ).verdict
            )


async def test_three_failing_tenants_take_the_host_down_for_everyone(harness: Harness) -> None:
    """B, C and D's receivers on the host fail until their circuits open: then E's webhook to the
    same host is deferred without an attempt (the host is down), while with two failing
    tenants it went out."""
    failing = [await client_named(harness, name) for name in ("b", "c", "d")]
    e = await client_named(harness, "e")
    async with shared_world(harness) as world:
        for client in failing:
            world.host.behaviour[client.name] = "fail"
        target = destination(HOST)
        for client in failing[:2]:
            await due_webhooks(harness, client, client.name, 6)
        await world.worker.tick()
        await wait_for_async(lambda: not world.worker.work.tasks, timeout_s=10.0)
        assert "send" == world.worker.work.circuits.admit(e.id, target, harness.clock()).verdict

        await due_webhooks(harness, failing[2], failing[2].name, 6)
        await world.worker.tick()
        await wait_for_async(lambda: not world.worker.work.tasks, timeout_s=10.0)
        for client in failing:
            verdict = world.worker.work.circuits.admit(client.id, target, harness.clock())
            assert "defer" == verdict.verdict, client.name

        [e_job] = await due_webhooks(harness, e, "e", 1)
        await world.worker.tick()
        await wait_for_async(lambda: not world.worker.work.tasks, timeout_s=10.0)
        [e_delivery] = await harness.store.deliveries.for_job(e_job.id)
        assert [] == [url for url in world.host.sent if "/e/" in url]  # nothing of E went
        assert (0, "pending") == (e_delivery.attempts, e_delivery.state)
        assert e_delivery.next_run_at is not None
        assert e_delivery.next_run_at > harness.clock()
