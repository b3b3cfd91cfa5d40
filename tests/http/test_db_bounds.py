"""Every wait on the database is bounded (issue 31): a replica cut off from PostgreSQL (a
loopback proxy that black-holes every byte, no error to either side) answers 503
``store_unavailable`` + Retry-After within ``GATEWAY_DB_TIMEOUT_S`` on every route, /readyz
included, and serves again by itself after the heal; on SQLite a write lock held elsewhere is
waited for at most the same bound."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from gateway.store import Store
from gateway.store.bounds import DatabaseBounds
from gateway.testing.fakes import Clock
from gateway.testing.tcp_proxy import FaultProxy
from tests.backends import open_empty_store
from tests.http.conftest import api_settings, gateway_app, in_this_loop
from tests.http.test_outages import assert_store_unavailable
from tests.pg import require_pg

BOUND_S = 1.0
# What "within the bound" may take on a busy test machine: the bound, and a margin for the
# event loop (a request that hangs is cut off at the test's own deadline, far above).
WITHIN_S = BOUND_S * 2.5
JOB = {"prompt": "a horse", "callback_url": "https://hooks.test/in"}


@contextlib.asynccontextmanager
async def gateway_through(
    url: str, tmp_path: Path, bounds: DatabaseBounds | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a store whose every connection goes to ``url``, bounded by ``BOUND_S``."""
    store = await Store.open(url, bounds=bounds or DatabaseBounds(timeout_s=BOUND_S))
    app = gateway_app(api_settings(tmp_path, database_url=url), store, clock=Clock())
    try:
        async with in_this_loop(app) as http:
            yield http
    finally:
        await store.close()


async def timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(30):  # before the bounds, these hung for minutes
        response = await request
    return response, time.monotonic() - started


async def test_a_black_holed_postgresql_answers_503_within_the_bound_then_recovers(
    pg_module_url: str, tmp_path: Path
) -> None:
    """Every byte to and from PostgreSQL silently dropped: intake, the list, a job, the key
    lookup and /readyz each answer 503 store_unavailable within the bound; after the heal the
    same requests are served again, without a restart."""
    require_pg()
    await (await open_empty_store(pg_module_url)).close()
    target = urlsplit(pg_module_url)
    async with FaultProxy(("127.0.0.1", target.port or 5432)) as proxy:
        url = pg_module_url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}")
        async with gateway_through(url, tmp_path) as http:
            auth = {"Authorization": f"Bearer {api_settings(tmp_path).client_api_key}"}
            accepted = await http.post("/v1/jobs", json=JOB, headers=auth)
            assert 202 == accepted.status_code, accepted.text
            job = accepted.json()["id"]
            proxy.black_hole()
            cut = [
                await timed(http.post("/v1/jobs", json=JOB, headers=auth)),
                await timed(http.get("/v1/jobs", headers=auth)),
                await timed(http.get(f"/v1/jobs/{job}", headers=auth)),
                await timed(http.get("/v1/jobs", headers={"Authorization": "Bearer gw_unknown"})),
                await timed(http.get("/readyz")),
                await timed(http.get("/readyz")),  # no 200 after the first failed proof
            ]
            proxy.pass_through()
            healed = [
                await http.post("/v1/jobs", json=JOB, headers=auth),
                await http.get(f"/v1/jobs/{job}", headers=auth),
                await http.get("/readyz"),
            ]

    for response, elapsed in cut:
        assert_store_unavailable(response)
        assert elapsed < WITHIN_S, f"{response.request.url} took {elapsed:.2f} s"
    assert [202, 200, 200] == [r.status_code for r in healed]


def through(proxy: FaultProxy, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    target = urlsplit(url)
    return url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}")


async def test_a_replica_cut_mid_transaction_does_not_hold_up_another_replicas_intake(
    pg_module_url: str, tmp_path: Path
) -> None:
    """Issue 31's first partition: replica A, holding the client's rate-window row lock inside
    a transaction, is cut from PostgreSQL (its path black-holed, its code stuck before COMMIT).
    Replica B's intake for the same client answers within 5 s (503 at B's lock timeout, not
    the ~2 h of TCP's timeout), and once A's session has been idle in its transaction past the
    idle timeout, PostgreSQL ends it and B accepts again."""
    require_pg()
    await (await open_empty_store(pg_module_url)).close()
    b_bounds = DatabaseBounds(timeout_s=3.0, lock_timeout_s=1.0)
    a_bounds = DatabaseBounds(timeout_s=3.0, idle_in_transaction_timeout_s=2.0)
    target = urlsplit(pg_module_url)
    async with (
        FaultProxy(("127.0.0.1", target.port or 5432)) as proxy,
        gateway_through(pg_module_url, tmp_path, b_bounds) as b,
    ):
        auth = {"Authorization": f"Bearer {api_settings(tmp_path).client_api_key}"}
        assert 202 == (await b.post("/v1/jobs", json=JOB, headers=auth)).status_code
        a = await Store.open(through(proxy, pg_module_url), bounds=a_bounds)
        locked, released = asyncio.Event(), asyncio.Event()

        async def replica_a_hangs_mid_transaction() -> None:
            async with a.db.write() as conn:
                await conn.execute(sa.text("SELECT * FROM rate_windows FOR UPDATE"))
                proxy.black_hole()  # cut between a statement and its COMMIT
                locked.set()
                await released.wait()

        hanging = asyncio.ensure_future(replica_a_hangs_mid_transaction())
        try:
            async with asyncio.timeout(10):
                await locked.wait()
            blocked, elapsed = await timed(b.post("/v1/jobs", json=JOB, headers=auth))
            deadline = time.monotonic() + 15  # A's idle timeout (2 s) ends its session
            while (accepted := await b.post("/v1/jobs", json=JOB, headers=auth)).status_code != 202:
                assert time.monotonic() < deadline, accepted.text
        finally:
            released.set()
            await asyncio.gather(hanging, return_exceptions=True)
            await a.close()

    assert blocked.status_code in {202, 503}, blocked.text
    assert elapsed < 5.0, f"B's intake took {elapsed:.2f} s"


async def test_sqlite_waits_for_a_held_write_lock_at_most_the_bound(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock: intake answers 503 within the bound (the
    busy wait is GATEWAY_DB_TIMEOUT_S, not 10 s), and 202 once the lock is released."""
    url = f"sqlite:///{tmp_path / 'api.db'}"
    async with gateway_through(url, tmp_path) as http:
        auth = {"Authorization": f"Bearer {api_settings(tmp_path).client_api_key}"}
        assert 202 == (await http.post("/v1/jobs", json=JOB, headers=auth)).status_code
        other = sqlite3.connect(tmp_path / "api.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock, held
            refused, elapsed = await timed(http.post("/v1/jobs", json=JOB, headers=auth))
            other.execute("ROLLBACK")
        finally:
            other.close()
        accepted = await http.post("/v1/jobs", json=JOB, headers=auth)

    assert_store_unavailable(refused)
    assert BOUND_S * 0.9 <= elapsed < WITHIN_S
    assert 202 == accepted.status_code


async def test_postgresql_sessions_carry_the_server_side_bounds(pg_module_url: str) -> None:
    """Each session of the pool starts with the statement, lock and idle-in-transaction
    timeouts and TCP keepalives of its bounds."""
    require_pg()
    bounds = DatabaseBounds(
        timeout_s=3, statement_timeout_s=2.5, lock_timeout_s=1.5, idle_in_transaction_timeout_s=4
    )
    store = await Store.open(pg_module_url, bounds=bounds)
    try:
        async with store.db.read() as conn:
            names = list(bounds.server_settings())
            rows = await conn.execute(
                sa.text("SELECT name, setting FROM pg_settings WHERE name = ANY(:names)"),
                {"names": names},
            )
            actual = dict(rows.all())
    finally:
        await store.close()
    assert {
        "statement_timeout": "2500",
        "lock_timeout": "1500",
        "idle_in_transaction_session_timeout": "4000",
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_interval": "3",
        "tcp_keepalives_count": "3",
    } == actual
