"""A callback destination that keeps failing has its circuit opened: its deliveries are given
back on the retry schedule without an attempt or a slot, while other destinations go on; one
probe after the open time closes it again."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.domain.fair_share import destination
from gateway.domain.upstream import Generation
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.settings import Settings
from tests.harness import Harness, make_settings

A_URL = "https://a.test/hook"
B_URL = "https://b.test/hook"
DONE = Generation(id="gen_scripted_000000001", status="completed", video_url="https://cdn.test/v")


class HostSender:
    """``a.test`` answers 503 until it is made healthy; every other host answers 200."""

    def __init__(self) -> None:
        self.healthy = False
        self.sent: list[str] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append(url)
        status = 200 if self.healthy or not url.startswith(A_URL) else 503
        return AttemptResult(status_code=status, latency_ms=1.0, response_excerpt="")

    def count(self, url: str) -> int:
        return sum(1 for sent in self.sent if sent == url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One attempt at a time per destination, so the order of attempts is the order of claims.
    return make_settings(
        database_url, delivery_breaker_failures=3, delivery_per_destination=1
    ).with_(delivery_schedule=(0.0, 60.0, 300.0))


def samples(harness: Harness, name: str) -> dict[str, float]:
    registry = harness.runtime.metrics.registry
    return {
        ",".join(f"{k}={v}" for k, v in s.labels.items()): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == name
    }


async def test_an_open_circuit_defers_without_attempts_and_a_probe_closes_it(
    harness: Harness,
) -> None:
    sender = HostSender()
    harness.runtime.sender = sender
    other = await create_client(harness.store, "b", now=harness.clock())
    b_client = await harness.store.clients.get(other.id)
    assert b_client is not None
    a_jobs = [await harness.accept(callback_url=A_URL) for _ in range(6)]
    harness.upstream.poll_script.extend([DONE] * 6)
    await harness.run()  # submitted
    await harness.run(advance_s=15)  # completed: six webhooks to a.test are due

    # a.test fails three times in a row (one at a time: the others wait their turn a second).
    for _ in range(3):
        await harness.run(advance_s=1)
    assert 3 == sender.count(A_URL)
    attempts = [a for j in a_jobs for a in await harness.store.deliveries.attempts_for_job(j.id)]
    circuit_opened_at = max(a.attempted_at for a in attempts)  # the third failure opened it

    # Its circuit is open: a.test's deliveries come back when it may close, with no attempt;
    # client B's webhook to another host is claimed and delivered on the same round.
    request = {"prompt": "a horse", "callback_url": B_URL}
    b_job = (await accept_job(harness.runtime, b_client, request)).job
    harness.upstream.poll_script.append(DONE)
    await harness.run(advance_s=1)
    await harness.run(advance_s=15)
    assert 3 == sender.count(A_URL)
    assert 1 == sender.count(B_URL)
    [b_delivery] = await harness.store.deliveries.for_job(b_job.id)
    assert "delivered" == b_delivery.state
    untried = [
        d for j in a_jobs for d in await harness.store.deliveries.for_job(j.id) if d.attempts == 0
    ]
    assert 3 == len(untried)
    # Open for the retry schedule's first wait (60 s here).
    assert {circuit_opened_at + 60.0} == {d.next_run_at for d in untried}
    assert samples(harness, "gateway_deliveries_deferred_total")["reason=circuit_open"] >= 3
    assert 1.0 == samples(harness, "gateway_delivery_circuits_open")[""]

    # The open time passes: a probe goes (one at a time while half-open: see
    # tests/domain/test_circuit.py), it succeeds, the circuit closes and the rest follow.
    sender.healthy = True
    await harness.run(advance_s=circuit_opened_at + 60.0 - harness.clock() - 0.5)
    assert 3 == sender.count(A_URL)  # still open half a second before
    await harness.run(advance_s=0.5)
    assert 4 <= sender.count(A_URL)
    for _ in range(10):
        await harness.run(advance_s=5)
    states = [d.state for j in a_jobs for d in await harness.store.deliveries.for_job(j.id)]
    assert ["delivered"] * 6 == states
    assert 0.0 == samples(harness, "gateway_delivery_circuits_open")[""]
    assert destination(A_URL) == "https://a.test:443"
