"""PostgreSQL LISTEN/NOTIFY: a worker wakes when another replica commits work due now."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from gateway.service.intake import accept_job
from gateway.settings import Settings
from gateway.store import Store
from gateway.testing.waiting import wait_for_async
from gateway.worker.notifications import APPLICATION_NAME, WorkListener
from gateway.worker.ticker import Worker
from tests.harness import Harness, make_settings
from tests.pg import fresh_database, require_pg

pytestmark = pytest.mark.postgres


@pytest.fixture
async def settings() -> AsyncIterator[Settings]:
    require_pg()
    async with fresh_database() as url:
        # Regular ticks a minute apart: only a notification can start the work in time.
        yield make_settings(url, tick_interval_s=60.0)


async def test_a_worker_wakes_when_another_replica_accepts_a_job(harness: Harness) -> None:
    worker_runtime = dataclasses.replace(harness.runtime, clock=time.time)
    worker = Worker(worker_runtime)
    worker.start()
    api_store = await Store.open(harness.runtime.settings.database_url)
    try:
        assert worker.listener is not None
        await asyncio.wait_for(worker.listener.listening.wait(), timeout=10.0)
        # The first tick has run and found nothing: the next regular one is a minute away.
        await wait_for_async(lambda: (worker.next_tick_at or 0) > time.time() + 30, timeout_s=10.0)
        api_runtime = dataclasses.replace(harness.runtime, store=api_store, clock=time.time)
        request = {"prompt": "a horse"}
        await accept_job(api_runtime, harness.client, request)
        await harness.upstream.wait_for_calls(submits=1, timeout_s=10.0)
    finally:
        await worker.stop(grace_s=1.0)
        await api_store.close()


async def test_the_listener_reconnects_after_its_connection_is_lost(settings: Settings) -> None:
    """The server drops the listening connection; the listener connects again and still hears
    the next notification."""
    woke = asyncio.Event()
    store = await Store.open(settings.database_url)
    listener = WorkListener(store.db.driver_url(), woke.set)
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), timeout=10.0)
        async with store.db.write() as conn:
            await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            )
        await wait_for_async(
            lambda: listener.connections == 2 and listener.listening.is_set(), timeout_s=10.0
        )
        async with store.db.write() as conn:
            await store.db.notify_work(conn)
        await asyncio.wait_for(woke.wait(), timeout=10.0)
    finally:
        await listener.stop()
        await store.close()
