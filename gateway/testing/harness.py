"""A gateway runtime with fakes for its ports and a clock that moves only when told: every test of
the use cases and the worker drives time itself, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.app import open_runtime
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.service.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.records import ClientRecord, JobRecord
from gateway.testing.fakes import AllowAllGuard, Clock, RecordingSender, ScriptedUpstream
from gateway.worker.ticker import Worker

START = 1_800_000_000.0  # the fake clock's first reading


@dataclass
class Harness:
    runtime: Runtime
    store: Store
    worker: Worker
    clock: Clock
    upstream: ScriptedUpstream
    sender: RecordingSender
    client: ClientRecord
    webhook_secret: str

    async def accept(self, **fields: Any) -> JobRecord:
        """Accept a job of the harness's client (a valid body; ``fields`` override it)."""
        body = {"prompt": "a horse", "callback_url": "https://hooks.test/in", **fields}
        accepted = await accept_job(self.runtime, self.client, body)
        return accepted.job

    async def job(self, job_id: str) -> JobRecord:
        job = await self.store.jobs.get_job(job_id)
        assert job is not None
        return job

    async def run(self, advance_s: float = 0.0) -> int:
        """Move the clock, then run everything due (every worker step runs here, not later)."""
        self.clock.advance(advance_s)
        return await self.worker.run_until_idle()


def harness_settings(database_url: str, **changes: Any) -> Settings:
    """Settings for a harness: fixed 15-s polls, a short retry schedule without jitter."""
    return Settings(
        database_url=database_url,
        poll_policy="fixed",
        poll_interval_s=15.0,
        delivery_schedule=(0.0, 5.0, 300.0),
        delivery_jitter=0.0,
        replica_id="test-replica",
        outputs="link",  # the scripted upstream's links lead nowhere; tests of keeping say "keep"
    ).with_(**changes)


@contextlib.asynccontextmanager
async def open_harness(settings: Settings, store: Store) -> AsyncIterator[Harness]:
    """A harness on ``store`` (the caller's to close), with one client to submit as."""
    clock = Clock(start=START)
    upstream = ScriptedUpstream()
    sender = RecordingSender()
    async with open_runtime(
        settings,
        store=store,
        upstream=upstream,
        sender=sender,
        guard=AllowAllGuard(),
        clock=clock,
        rng=random.Random(7).random,
    ) as runtime:
        credentials = await create_client(runtime.store, "tests", now=clock())
        client = await store.clients.get(credentials.id)
        assert client is not None
        yield Harness(
            runtime=runtime,
            store=store,
            worker=Worker(runtime),
            clock=clock,
            upstream=upstream,
            sender=sender,
            client=client,
            webhook_secret=credentials.webhook_secret,
        )
