"""Delivery: signed webhooks per second to a fast loopback receiver.

Three rows, each sending the same signed bodies at the same concurrency to the same receiver
process (``bench.receiver``):

1. the baseline, a plain ``httpx.AsyncClient`` posting pre-signed bodies;
2. the gateway's ``WebhookSender`` (guarded transport, bounded reading), signing every attempt;
3. the gateway's whole delivery path: pending events claimed from the store under a lease,
   signed, sent, and the attempt and the outcome committed (SQLite, then PostgreSQL).

``uv run python -m bench.delivery [--events 3000] [--concurrency 64] [--no-postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import PgDatabase, Process, free_port, print_table
from gateway.app import Gateway, create_app
from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import WebhookSender
from gateway.domain.addresses import Allowlist
from gateway.domain.events import event_body, new_event_id
from gateway.domain.signing import webhook_headers
from gateway.ids import new_job_id
from gateway.observability.logging import configure_logging
from gateway.service.clients import create_client
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.records import NewJob
from gateway.store.schema import deliveries

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (the Standard Webhooks test secret)


def _body(i: int) -> bytes:
    data = {
        "id": f"job_{i:024d}",
        "status": "completed",
        "video_url": "https://cdn.example/video.mp4",
        "metadata": {"order": str(i)},
    }
    return event_body("video.generation.completed", "2026-11-26T12:00:00Z", data)


async def _concurrently(count: int, concurrency: int, one: Callable[[int], Awaitable[bool]]) -> int:
    """Run ``one(i)`` for i < count with ``concurrency`` workers; how many succeeded."""
    next_index = iter(range(count))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for i in next_index:
            succeeded = await one(i)  # not `ok += await …`: that reads `ok` before awaiting
            ok += succeeded

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def plain_httpx(url: str, count: int, concurrency: int) -> tuple[float, int]:
    signed = [
        (_body(i), webhook_headers([SECRET], f"msg_{i}", int(time.time()), _body(i)))
        for i in range(count)
    ]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:

        async def one(i: int) -> bool:
            body, headers = signed[i]
            response = await client.post(url, content=body, headers=headers)
            return response.status_code < 300

        started = time.perf_counter()
        ok = await _concurrently(count, concurrency, one)
        return time.perf_counter() - started, ok


async def gateway_sender(url: str, count: int, concurrency: int) -> tuple[float, int]:
    bodies = [_body(i) for i in range(count)]
    sender = WebhookSender(
        AddressGuard(Allowlist.parse("127.0.0.1/32")), max_connections=concurrency
    )
    try:

        async def one(i: int) -> bool:
            headers = webhook_headers([SECRET], f"msg_{i}", int(time.time()), bodies[i])
            result = await sender.send(url, bodies[i], headers)
            return result.status_code is not None and result.status_code < 300

        started = time.perf_counter()
        ok = await _concurrently(count, concurrency, one)
        return time.perf_counter() - started, ok
    finally:
        await sender.aclose()


async def gateway_pipeline(
    url: str, database_url: str, count: int, concurrency: int
) -> tuple[float, int]:
    """The gateway wired as ``gateway serve`` wires it (``create_app``), without the HTTP server
    and the ticker: the events are seeded as pending, then the worker drains them."""
    settings = Settings(
        database_url=database_url,
        upstream_url=f"http://127.0.0.1:{free_port()}",  # never called
        max_concurrency=concurrency,
        claim_batch=concurrency,
        callback_allowlist=("127.0.0.1/32",),
        replica_id="bench",
    )
    store = await Store.open(database_url)  # the bench seeds and counts rows through it
    app = create_app(settings, run_worker=False, store=store)
    async with app.lifespan():
        gateway: Gateway = app.state.gateway
        now = time.time()
        client = await create_client(store, "bench", now=now)
        job = NewJob(
            id=new_job_id(),
            client_id=client.id,
            request={"prompt": "bench"},
            model="alibaba/happyhorse-1-0",
            resolution=None,
            duration=None,
            callback_url=url,
            metadata={},
            events=["completed", "failed"],
            deadline_at=now + 3600,
        )
        await store.jobs.insert_job(job, now=now)
        async with store.db.write() as conn:
            await conn.execute(
                sa.insert(deliveries),
                [
                    {
                        "id": new_event_id(os.urandom(15)),
                        "job_id": job.id,
                        "client_id": client.id,
                        "event_type": "video.generation.completed",
                        "url": url,
                        "payload": _body(i).decode(),
                        "state": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                        "next_run_at": now,
                    }
                    for i in range(count)
                ],
            )
        started = time.perf_counter()
        await gateway.worker.run_until_idle(max_rounds=count)
        elapsed = time.perf_counter() - started
        async with store.db.read() as conn:
            delivered = (
                await conn.execute(
                    sa.select(sa.func.count()).where(deliveries.c.state == "delivered")
                )
            ).scalar_one()
    await store.close()
    return elapsed, int(delivered)


def main() -> None:
    configure_logging(log_format="console", level="WARNING", secrets=[])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    n, c = options.events, options.concurrency
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        port = free_port()
        receiver = Process(
            ["-m", "bench.receiver", str(port)], port=port, log=Path(tmp) / "receiver.log"
        )
        url = f"{receiver.url}/hooks"
        try:
            elapsed, ok = asyncio.run(plain_httpx(url, n, c))
            baseline = ok / elapsed
            rows.append(["plain httpx.AsyncClient (pre-signed)", ok, baseline, 1.0])
            elapsed, ok = asyncio.run(gateway_sender(url, n, c))
            rows.append(
                ["WebhookSender (guard, signs each)", ok, ok / elapsed, ok / elapsed / baseline]
            )
            sqlite_url = f"sqlite:///{Path(tmp) / 'delivery.db'}"
            elapsed, ok = asyncio.run(gateway_pipeline(url, sqlite_url, n, c))
            rows.append(
                [
                    "gateway pipeline, SQLite (claim, sign, send, commit)",
                    ok,
                    ok / elapsed,
                    ok / elapsed / baseline,
                ]
            )
            if not options.no_postgres and asyncio.run(PgDatabase.reachable()):
                pg = PgDatabase()
                try:
                    pg_url = asyncio.run(pg.create())
                    elapsed, ok = asyncio.run(gateway_pipeline(url, pg_url, n, c))
                    rows.append(
                        ["gateway pipeline, PostgreSQL", ok, ok / elapsed, ok / elapsed / baseline]
                    )
                finally:
                    asyncio.run(pg.drop())
        finally:
            receiver.stop()
    print_table(
        f"Delivery: {n} signed webhooks, concurrency {c}, loopback receiver",
        ["sender", "delivered", "webhooks/s", "ratio vs plain httpx"],
        rows,
    )


if __name__ == "__main__":
    main()
