"""Storage outages answer 503 ``store_unavailable`` with Retry-After, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from gateway.store import Database, Store
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from tests.http.conftest import BOOTSTRAP_KEY, Api, api_settings, gateway_app
from tests.http.test_api import assert_error_shape

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
JOB = {"prompt": "a horse", "callback_url": "https://hooks.test/in"}


def assert_store_unavailable(response: Any) -> None:
    assert 503 == response.status_code, response.text
    assert_error_shape(response.json(), "store_unavailable")
    assert int(response.headers["retry-after"]) >= 1


async def test_a_full_disk_answers_503_and_loses_nothing_accepted(api: Api) -> None:
    """SQLite's disk full (a page limit stands in for it): intake answers 503 with Retry-After;
    reads still work; the jobs accepted before are all there."""
    accepted = await api.submit()
    assert 202 == accepted.status_code
    db = api.gateway.runtime.store.db

    def tiny_disk(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        cursor.execute(f"PRAGMA max_page_count={cursor.fetchone()[0]}")
        cursor.close()

    sa.event.listen(db.engine.sync_engine, "connect", tiny_disk)
    await db.engine.dispose()  # new connections, each with the limit
    writer = db.sqlite_writer  # and intake's own, in the writer's thread
    assert writer is not None
    writer.on_connect.append(lambda conn: tiny_disk(conn, None))
    await writer.close()
    ids = [accepted.json()["id"]]
    for _ in range(200):  # the pages left fill up within a few jobs
        response = await api.submit(prompt="x" * 2000)
        if response.status_code != 202:
            break
        ids.append(response.json()["id"])
    listed = await api.http.get("/v1/jobs?limit=200", headers=AUTH)

    assert_store_unavailable(response)
    assert_store_unavailable(await api.submit(prompt="y" * 2000))
    assert sorted(ids) == sorted(job["id"] for job in listed.json()["data"])


async def test_an_unreachable_database_answers_503_on_every_route(tmp_path: Path) -> None:
    """PostgreSQL down (nothing listens): POST and GET /v1/jobs, a job and its deliveries all
    answer 503 store_unavailable in the error shape, never 500."""
    unreachable = Store(Database.connect("postgresql://postgres@127.0.0.1:1/none"))
    app = gateway_app(
        api_settings(tmp_path, client_api_key=""),
        unreachable,
        ScriptedUpstream(),
        RecordingSender(),
        Clock(),
    )
    async with AsyncTestClient(app=app) as http:
        answers = [
            await http.post("/v1/jobs", json=JOB, headers=AUTH),
            await http.get("/v1/jobs", headers=AUTH),
            await http.get("/v1/jobs/job_x", headers=AUTH),
            await http.get("/v1/jobs/job_x/deliveries", headers=AUTH),
        ]
    await unreachable.close()
    for response in answers:
        assert_store_unavailable(response)


async def test_readyz_proves_a_commit_at_most_once_per_interval(api: Api) -> None:
    """/readyz writes this replica's heartbeat (at most every 5 s, its verdict reused between);
    a database that answers SELECT 1 but cannot commit (read-only here, like a full disk) makes
    it a 503 at the next proof; /healthz stays 200."""
    readiness = api.gateway.readiness
    first = await api.http.get("/readyz")
    api.clock.advance(1)
    second = await api.http.get("/readyz")
    writes_within_interval = readiness.writes
    db = api.gateway.runtime.store.db

    def read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    sa.event.listen(db.engine.sync_engine, "connect", read_only)
    await db.engine.dispose()
    async with db.read() as conn:
        assert 1 == (await conn.execute(sa.text("SELECT 1"))).scalar_one()  # reads still pass
    api.clock.advance(1)
    still_cached = await api.http.get("/readyz")
    api.clock.advance(5)
    refused = await api.http.get("/readyz")
    alive = await api.http.get("/healthz")

    assert [200, 200, 200] == [r.status_code for r in (first, second, still_cached)]
    assert 1 == writes_within_interval
    assert_store_unavailable(refused)
    assert 200 == alive.status_code
