"""A gateway runtime with a fake clock, upstream and receiver, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.app import open_runtime
from gateway.service.clients import create_client
from gateway.service.intake import accept_job
from gateway.service.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.records import ClientRecord, JobRecord
from gateway.worker.ticker import Worker
from tests.backends import open_empty_store
from tests.fakes import AllowAllGuard, Clock, RecordingSender, ScriptedUpstream


@dataclass
class Harness:
    runtime: Runtime
    worker: Worker
    clock: Clock
    upstream: ScriptedUpstream
    sender: RecordingSender
    client: ClientRecord
    webhook_secret: str

    @property
    def store(self) -> Store:
        return self.runtime.store

    async def accept(self, **fields: Any) -> JobRecord:
        body = {"prompt": "a horse", "callback_url": "https://hooks.test/in", **fields}
        accepted = await accept_job(self.runtime, self.client, body)
        return accepted.job

    async def job(self, job_id: str) -> JobRecord:
        job = await self.store.jobs.get_job(job_id)
        assert job is not None
        return job

    async def run(self, advance_s: float = 0.0) -> int:
        self.clock.advance(advance_s)
        return await self.worker.run_until_idle()


def make_settings(database_url: str, **changes: Any) -> Settings:
    return Settings(
        database_url=database_url,
        poll_policy="fixed",
        poll_interval_s=15.0,
        delivery_schedule=(0.0, 5.0, 300.0),
        delivery_jitter=0.0,
        replica_id="test-replica",
    ).with_(**changes)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    clock = Clock(start=1_800_000_000.0)
    store = await open_empty_store(settings.database_url)
    upstream = ScriptedUpstream()
    sender = RecordingSender()
    try:
        async with open_runtime(
            settings,
            store=store,
            upstream=upstream,
            sender=sender,
            guard=AllowAllGuard(),
            clock=clock,
            rng=random.Random(7).random,
        ) as runtime:
            credentials = await create_client(store, "tests", now=clock())
            client = await store.clients.get(credentials.id)
            assert client is not None
            yield Harness(
                runtime=runtime,
                worker=Worker(runtime),
                clock=clock,
                upstream=upstream,
                sender=sender,
                client=client,
                webhook_secret=credentials.webhook_secret,
            )
    finally:
        await store.close()
