"""/readyz tells the truth now: it turns 503 as soon as intake would (a full SQLite disk), a
proof that cannot finish in time is a 503, and it comes back by itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from tests.http.conftest import Api
from tests.http.test_outages import assert_store_unavailable


async def fill_the_disk(api: Api) -> Callable[[], Awaitable[None]]:
    """SQLite's disk full from now on: the database may not grow past the pages it has (a page
    limit on every new connection, the engine's and intake's writer's). Returns what frees it."""
    db = api.gateway.runtime.store.db

    def tiny_disk(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        cursor.execute(f"PRAGMA max_page_count={cursor.fetchone()[0]}")
        cursor.close()

    sa.event.listen(db.engine.sync_engine, "connect", tiny_disk)
    writer = db.sqlite_writer
    assert writer is not None
    limit = lambda conn: tiny_disk(conn, None)  # noqa: E731 (removed by identity below)
    writer.on_connect.append(limit)
    await db.engine.dispose()  # new connections, each with the limit
    await writer.close()

    async def free() -> None:
        assert writer is not None
        sa.event.remove(db.engine.sync_engine, "connect", tiny_disk)
        writer.on_connect.remove(limit)
        await db.engine.dispose()
        await writer.close()

    return free


async def fill_up(api: Api) -> Any:
    """Submit jobs until intake refuses one; return that answer."""
    for _ in range(200):  # the pages left fill up within a few jobs
        answer = await api.submit(prompt="x" * 2000)
        if answer.status_code != 202:
            return answer
    raise AssertionError("the disk never filled")


async def test_readyz_turns_503_as_soon_as_intake_does_on_a_full_disk(api: Api) -> None:
    """Intake answers 503 on a full disk: the very next /readyz (within the interval that would
    reuse its last verdict) is 503 too, and stays 503 at the next proofs while the disk is
    full (the heartbeat alone would fit: the proof needs room as intake does)."""
    assert 200 == (await api.http.get("/readyz")).status_code
    assert 202 == (await api.submit()).status_code
    await fill_the_disk(api)
    refused = await fill_up(api)
    at_once = await api.http.get("/readyz")
    api.clock.advance(api.gateway.readiness.interval_s)
    next_proof = await api.http.get("/readyz")

    assert_store_unavailable(refused)
    assert_store_unavailable(at_once)
    assert_store_unavailable(next_proof)


async def test_readyz_comes_back_when_the_disk_has_room_again(api: Api) -> None:
    """After the disk is freed (the page limit gone), the next proof is 200, as intake is."""
    free = await fill_the_disk(api)
    await fill_up(api)
    refused = await api.http.get("/readyz")
    await free()
    api.clock.advance(api.gateway.readiness.interval_s)
    ready = await api.http.get("/readyz")
    accepted = await api.submit()

    assert [503, 200, 202] == [refused.status_code, ready.status_code, accepted.status_code]
