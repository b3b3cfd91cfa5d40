"""A caller who hangs up costs no error line and no discarded connection (issue 31): an SSE
stream closed early, or an abandoned ``Prefer: wait``, while its database read is in flight,
lets the read finish and its connection go back to the pool (both databases)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from gateway.service.event_stream import job_event_frames
from gateway.service.waiting import JobWaiters, hold_until_ended
from gateway.store import Store
from gateway.testing.waiting import wait_for_async
from tests.backends import open_empty_store

# A read that takes a while on each database (long enough to be cancelled half-way).
SLOW_SQLITE = sa.text(
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
    "SELECT count(*) FROM c"
)
SLOW_PG = sa.text("SELECT pg_sleep(0.3)")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_empty_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


class SlowReads:
    """Reads that take a while, each signalling once its statement is on its way."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.executing = asyncio.Event()
        self.finished = 0
        self.discarded = 0
        engine = store.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._executing)
        event.listen(engine.pool, "invalidate", self._discarded)

    def _executing(self, *_: Any) -> None:
        self.executing.set()

    def _discarded(self, *_: Any) -> None:
        self.discarded += 1

    async def read(self) -> None:
        async with self.store.db.read() as conn:
            await conn.execute(SLOW_SQLITE if self.store.db.is_sqlite else SLOW_PG)
        self.finished += 1


async def hang_up_mid_read(reads: SlowReads, caller: Callable[[], Awaitable[Any]]) -> None:
    """Start ``caller``, cancel it while its read executes, and wait until the read is over."""
    task = asyncio.ensure_future(caller())
    async with asyncio.timeout(10):
        await reads.executing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pool = reads.store.db.engine.pool
    await wait_for_async(lambda: pool.checkedout() == 0, timeout_s=10)  # type: ignore[attr-defined]
    gc.collect()  # a task left pending would be reported now


async def test_an_sse_stream_closed_mid_read_discards_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    reads = SlowReads(store)

    async def fetch(_after: int) -> list[Any]:
        await reads.read()
        return []

    async def has_ended() -> bool:
        return False

    frames = job_event_frames(
        "job_x", after_id=0, fetch=fetch, has_ended=has_ended, waiters=JobWaiters(), poll_s=30
    )
    with caplog.at_level(logging.WARNING):
        await hang_up_mid_read(reads, lambda: anext(frames))
    await frames.aclose()

    assert (1, 0) == (reads.finished, reads.discarded)
    assert [] == [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_abandoned_prefer_wait_mid_read_discards_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    reads = SlowReads(store)

    class Jobs:
        async def get_job(self, _job_id: str) -> None:
            await reads.read()

    class Running:
        id = "job_x"

        class status:  # stands in for a JobStatus
            is_terminal = False

    deadline = asyncio.get_running_loop().time() + 30
    with caplog.at_level(logging.WARNING):
        await hang_up_mid_read(
            reads,
            lambda: hold_until_ended(JobWaiters(), Jobs(), Running(), deadline),  # type: ignore[arg-type]
        )

    assert (1, 0) == (reads.finished, reads.discarded)
    assert [] == [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
