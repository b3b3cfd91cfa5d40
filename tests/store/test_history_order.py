"""A job's history rows commit in id order, so resuming after an id loses nothing."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from gateway.domain.history import JobEventKind
from gateway.store import Store
from gateway.store.history import NewJobEvent, record_events
from gateway.testing.waiting import wait_until
from tests.store.builders import T0, add_client, add_job

ATTEMPT = NewJobEvent(JobEventKind.DELIVERY_ATTEMPTED)


async def _waits_on_a_lock(store: Store, application_name: str) -> bool:
    async with store.db.read() as conn:
        waiting = await conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :name AND wait_event_type = 'Lock'"
            ),
            {"name": application_name},
        )
        return bool(waiting.scalar_one())


async def test_a_second_writer_of_a_jobs_history_waits_for_the_first(
    backend: str, store: Store
) -> None:
    """Two transactions record events of one job at once (two replicas' delivery attempts): the
    second waits until the first commits, so its row's id is higher and commits later. Without
    the lock, the second could commit first with the higher id, and a reader that had already
    read it would resume past the first's lower id and never see it."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: the race needs PostgreSQL")
    await add_client(store)
    job = await add_job(store)
    engine = store.db.engine
    async with engine.connect() as first:
        async with first.begin():
            await first.execute(sa.text("SET application_name = 'history-first'"))
            await record_events(first, job.id, [ATTEMPT], at=T0 + 1)

            async def second_writer() -> None:
                async with engine.connect() as second, second.begin():
                    await second.execute(sa.text("SET application_name = 'history-second'"))
                    await record_events(second, job.id, [ATTEMPT], at=T0 + 2)

            second = asyncio.create_task(second_writer())

            # Until it either finished or blocks on a lock (bounded).
            async def blocked_or_done() -> bool:
                return second.done() or await _waits_on_a_lock(store, "history-second")

            await wait_until(blocked_or_done, timeout_s=10.0, what="the second writer")
            assert (False, True) == (
                second.done(),
                await _waits_on_a_lock(store, "history-second"),
            )
        await second
    rows = await store.history.list_for_job(job.id)
    attempts = [row for row in rows if row.kind == JobEventKind.DELIVERY_ATTEMPTED]
    assert [T0 + 1, T0 + 2] == [row.at for row in attempts]
    assert attempts[0].id < attempts[1].id
