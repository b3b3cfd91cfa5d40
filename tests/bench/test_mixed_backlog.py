"""The mixed-backlog benchmark's seeding: what it writes is work the gateway claims, and only
from T on (a wrong seed would measure nothing and still print a table)."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from bench.mixed_backlog import Shape, _make_due, _quantile, _seed
from gateway.ids import new_lease_token
from gateway.store import Store
from gateway.store.schema import jobs
from tests.store.builders import claim_deliveries


async def test_seeded_work_is_due_at_t_and_claimable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    urls = [f"http://127.0.0.1:{port}/hooks" for port in (9001, 9002)]
    await _seed(url, Shape(clients=2, destinations=2), urls, polls=30, count=10)
    due_at = time.time() + 5
    await _make_due(url, due_at)
    store = await Store.open(url)
    try:
        claim = {"token": new_lease_token(), "lease_until": due_at + 60, "limit": 100}
        assert await claim_deliveries(store, now=due_at - 0.1, **claim) == []
        assert await store.jobs.claim_jobs(now=due_at - 0.1, **claim) == []
        delivered = await claim_deliveries(store, now=due_at, **claim)
        assert len(delivered) == 10
        assert {d.url for d in delivered} == set(urls)
        assert len({d.client_id for d in delivered}) == 2
        assert all(d.attempts == 0 and d.next_run_at == due_at for d in delivered)
        polled = await store.jobs.claim_jobs(now=due_at, **claim)
        assert len(polled) == 30
        assert all(j.status == "generating" and j.generation_id for j in polled)
        async with store.db.read() as conn:
            completed = await conn.scalar(
                sa.select(sa.func.count()).where(jobs.c.status == "completed")
            )
        assert completed == 10
    finally:
        await store.close()


def test_quantile_and_shape() -> None:
    values = [float(n) for n in range(1, 101)]
    assert _quantile(values, 0.5) == 50.0
    assert _quantile(values, 0.99) == 99.0
    assert _quantile([3.0], 0.99) == 3.0
    assert Shape.parse("4x8") == Shape(clients=4, destinations=8)
    assert str(Shape(1, 1)) == "1 × 1"
