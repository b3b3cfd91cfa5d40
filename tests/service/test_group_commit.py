"""Group commit: concurrent intake shares one transaction, and nobody is answered before it
commits — a failed commit fails every request of its batch and leaves no row."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.errors import StoreUnavailable
from gateway.store import Store
from gateway.store.group_commit import intake_commit
from gateway.store.intake import insert_batch
from gateway.store.jobs import Admission, Created, IdempotencyClaim, IntakeRequest, Replayed
from gateway.store.schema import jobs
from gateway.testing.waiting import wait_until
from tests.harness import Harness
from tests.pg import fresh_database, require_pg
from tests.store.builders import add_client, new_job

T0 = 1_800_000_000.0


async def count_jobs(store: Store) -> int:
    async with store.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one())


def requests(harness: Harness, n: int, **changes: Any) -> list[IntakeRequest]:
    admission = Admission(window_start=T0, rate_limit=10_000, max_in_flight=10_000)
    return [
        IntakeRequest(new=new_job(harness.client.id), now=T0, admission=admission, **changes)
        for _ in range(n)
    ]


async def test_concurrent_requests_share_a_transaction(harness: Harness) -> None:
    """Forty requests at once: all stored, in far fewer transactions than requests."""
    intake = intake_commit(harness.runtime.store.jobs)
    outcomes = await asyncio.gather(*(intake.submit(r) for r in requests(harness, 40)))

    assert all(isinstance(o, Created) for o in outcomes)
    assert 40 == await count_jobs(harness.runtime.store)
    assert intake.batches <= 2, intake.batches


async def test_a_lone_request_is_committed_at_once(harness: Harness) -> None:
    """No timer: one request is a batch of one, committed and answered on its own."""
    intake = intake_commit(harness.runtime.store.jobs)
    (request,) = requests(harness, 1)
    outcome = await asyncio.wait_for(intake.submit(request), timeout=10)
    assert isinstance(outcome, Created)
    assert (1, 1) == (intake.batches, await count_jobs(harness.runtime.store))


async def test_a_batch_cut_at_its_size_limit_commits_in_turns(harness: Harness) -> None:
    """Batches hold at most ``max_batch`` requests; the rest follow in the next transaction."""
    intake = intake_commit(harness.runtime.store.jobs, max_batch=4)
    outcomes = await asyncio.gather(*(intake.submit(r) for r in requests(harness, 10)))
    assert all(isinstance(o, Created) for o in outcomes)
    assert 3 <= intake.batches
    assert 10 == await count_jobs(harness.runtime.store)


# PostgreSQL: a constraint checked at COMMIT that fails as a disk fails (SQLSTATE 58030).
_FAIL_AT_COMMIT = (
    """CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'disk I/O error' USING ERRCODE = '58030'; END $$""",
    """CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()""",
)


@contextlib.asynccontextmanager
async def failing_commits(store: Store, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Every intake commit fails as a full disk fails it. SQLite: the writer thread's COMMIT
    (intake runs there); PostgreSQL: the database refuses the COMMIT itself."""
    writer = store.db.sqlite_writer
    if writer is not None:

        def full_disk(_conn: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(writer, "commit", full_disk)
        yield
        monkeypatch.undo()
        return
    async with store.db.write() as conn:
        for statement in _FAIL_AT_COMMIT:
            await conn.execute(sa.text(statement))
    yield
    async with store.db.write() as conn:
        await conn.execute(sa.text("DROP TRIGGER fail_at_commit ON jobs"))


async def test_a_failed_commit_fails_every_waiter_and_stores_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails at COMMIT: every request of the batch gets the outage (a 503), no row
    exists; the next batch, after the outage, is stored."""
    store = harness.runtime.store
    intake = intake_commit(store.jobs)
    async with failing_commits(store, monkeypatch):
        outcomes = await asyncio.gather(
            *(intake.submit(r) for r in requests(harness, 20)), return_exceptions=True
        )

    assert [StoreUnavailable] * 20 == [type(o) for o in outcomes]
    assert 0 == await count_jobs(store)
    after = await asyncio.gather(*(intake.submit(r) for r in requests(harness, 3)))
    assert all(isinstance(o, Created) for o in after)
    assert 3 == await count_jobs(store)


async def test_close_answers_the_queued_requests_then_refuses(harness: Harness) -> None:
    """Shutdown: requests already queued are committed and answered; later ones get a 503."""
    store = harness.runtime.store
    intake = intake_commit(store.jobs, max_batch=3)
    queued = [asyncio.ensure_future(intake.submit(r)) for r in requests(harness, 8)]
    await asyncio.sleep(0)  # let every request task enqueue (one loop turn, no waiting on time)
    await intake.close()

    assert all(f.done() and isinstance(f.result(), Created) for f in queued)
    assert 8 == await count_jobs(store)
    (late,) = requests(harness, 1)
    with pytest.raises(StoreUnavailable):
        await intake.submit(late)


async def test_a_repeated_key_in_one_group_gets_the_same_job(harness: Harness) -> None:
    """Ten simultaneous requests with one key land in one batch: one job, nine replays of it."""
    claim = IdempotencyClaim("key-race", "r" * 64, 3600.0)
    intake = intake_commit(harness.runtime.store.jobs)
    outcomes = await asyncio.gather(
        *(intake.submit(r) for r in requests(harness, 10, idempotency=claim))
    )
    created = [o for o in outcomes if isinstance(o, Created)]
    assert 1 == len(created)
    assert [Replayed(job=created[0].job)] * 9 == [o for o in outcomes if isinstance(o, Replayed)]
    assert 1 == await count_jobs(harness.runtime.store)


@pytest.mark.postgres
async def test_a_key_another_replica_commits_meanwhile_is_answered_from_its_job() -> None:
    """Replica B's transaction stores key K and stays open; replica A's batch (K with the same
    body, plus a job without a key) looked K up before B committed, so its insert waits on B's
    row and fails when B commits. Nothing of the batch is stored then; each request runs again
    alone: K replays B's job, the other job is created. Nobody was answered with the failure."""
    require_pg()
    claim = IdempotencyClaim("key-replicas", "k" * 64, 3600.0)
    async with fresh_database() as url:
        store_a, store_b = await Store.open(url), await Store.open(url)
        try:
            await add_client(store_a, "cli_a")
            intake = intake_commit(store_a.jobs)
            async with store_b.db.pg_transaction() as conn:  # B's transaction, held open
                (by_b,) = await insert_batch(
                    conn, [IntakeRequest(new=new_job(), now=T0, idempotency=claim)]
                )
                waiting = [
                    asyncio.ensure_future(
                        intake.submit(IntakeRequest(new=new_job(), now=T0, idempotency=claim))
                    ),
                    asyncio.ensure_future(intake.submit(IntakeRequest(new=new_job(), now=T0))),
                ]
                await wait_until(
                    lambda: lock_waits(store_a), timeout_s=10.0, what="A's batch waiting on B's key"
                )
            outcomes = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
        finally:
            await store_a.close()
            await store_b.close()

    assert isinstance(by_b, Created)
    assert Replayed(job=by_b.job) == outcomes[0]
    assert isinstance(outcomes[1], Created)


async def lock_waits(store: Store) -> bool:
    async with store.db.read() as conn:
        query = sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return int((await conn.execute(query)).scalar_one()) > 0


async def test_a_request_the_database_refuses_fails_alone(harness: Harness) -> None:
    """One job of the batch names a client that does not exist (a foreign-key violation): the
    batch's transaction fails, each request runs again alone, and only that one fails."""
    intake = intake_commit(harness.runtime.store.jobs)
    good = requests(harness, 3)
    bad = IntakeRequest(new=new_job("cli_nobody"), now=T0)
    outcomes = await asyncio.gather(
        *(intake.submit(r) for r in [good[0], bad, good[1], good[2]]), return_exceptions=True
    )
    assert [Created, sa.exc.IntegrityError, Created, Created] == [type(o) for o in outcomes]
    assert 3 == await count_jobs(harness.runtime.store)
