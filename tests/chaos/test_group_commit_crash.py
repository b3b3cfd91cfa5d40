"""A crash in the middle of group commits: ``gateway serve`` accepts jobs from many concurrent
clients (so requests share transactions) and is SIGKILLed mid-run.

Afterwards every job that got a 202 is in the database under its Idempotency-Key; requests that
got no answer may or may not have been committed, and a retry with the same key (after a restart)
gets exactly one job either way: nothing acknowledged is lost, nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.testing.processes import GatewayProcess
from mock_upstream.testing import free_port
from tests.chaos.harness import KEY, gateway_env
from tests.pg import fresh_database_sync, require_pg

pytestmark = pytest.mark.slow

CLIENTS = 24  # concurrent connections, each sending one job after another
KILL_AFTER = 60  # acknowledged jobs before the SIGKILL


@dataclass
class Load:
    acknowledged: dict[str, str] = field(default_factory=dict)  # key → job id of its 202
    unanswered: set[str] = field(default_factory=set)  # the connection dropped: outcome unknown
    refused: dict[str, int] = field(default_factory=dict)  # key → an answer other than 202


def body(key: str) -> dict[str, str]:
    return {"prompt": f"crash {key}", "duration": "5"}


async def post(http: httpx.AsyncClient, url: str, key: str) -> httpx.Response:
    return await http.post(
        f"{url}/v1/jobs",
        json=body(key),
        headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": key},
        timeout=20,
    )


async def load_until_killed(gateway: GatewayProcess) -> Load:
    load = Load()
    enough = asyncio.Event()

    async def client(http: httpx.AsyncClient, number: int) -> None:
        for n in range(10_000):
            key = f"crash-{number}-{n}"
            try:
                response = await post(http, gateway.url, key)
            except httpx.HTTPError:
                load.unanswered.add(key)
                return  # the gateway is gone
            if response.status_code == 202:
                load.acknowledged[key] = response.json()["id"]
                if len(load.acknowledged) >= KILL_AFTER:
                    enough.set()
            else:
                load.refused[key] = response.status_code

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits) as http:
        tasks = [asyncio.ensure_future(client(http, i)) for i in range(CLIENTS)]
        await asyncio.wait_for(enough.wait(), timeout=120)
        gateway.kill()  # SIGKILL while the other clients' requests are in flight
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return load


async def retry(url: str, keys: set[str]) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        responses = await asyncio.gather(*(post(http, url, key) for key in sorted(keys)))
    assert {202} == {r.status_code for r in responses}, [r.text for r in responses]
    return {key: r.json()["id"] for key, r in zip(sorted(keys), responses, strict=True)}


def run(tmp_path: Path, database_url: str, read_keys: Callable[[], dict[str, str]]) -> None:
    env = gateway_env(
        database_url,
        f"http://127.0.0.1:{free_port()}",  # never called: intake only
        GATEWAY_WORKER="false",
    )
    gateway = GatewayProcess(env, log_path=tmp_path / "gateway.log")
    gateway.start()
    load = asyncio.run(load_until_killed(gateway))
    print(
        f"\nacknowledged={len(load.acknowledged)} unanswered={len(load.unanswered)} "
        f"refused={load.refused}"
    )
    assert not load.refused
    assert load.unanswered  # the kill landed with requests in flight

    stored = read_keys()
    # Nothing acknowledged is lost: every 202 is a committed row under its key.
    lost = {k: v for k, v in load.acknowledged.items() if stored.get(k) != v}
    assert not lost, lost
    # Nothing stored without a request: every stored key was sent.
    assert set(stored) <= set(load.acknowledged) | load.unanswered

    gateway.start()
    try:
        retried = asyncio.run(retry(gateway.url, load.unanswered | set(load.acknowledged)))
    finally:
        gateway.stop()
    # A retry gets the committed job where there is one, a new one otherwise; never a second.
    assert load.acknowledged == {k: retried[k] for k in load.acknowledged}
    assert stored == {k: retried[k] for k in stored}
    final = read_keys()
    assert retried == final


def test_sigkill_mid_group_commit_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"

    def read_keys() -> dict[str, str]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT k.key, j.id FROM idempotency_keys k JOIN jobs j ON j.id = k.job_id"
            ).fetchall()
            (jobs,) = conn.execute("SELECT count(*) FROM jobs").fetchone()
        assert jobs == len(rows)  # every job row belongs to a key: no stray rows
        return dict(rows)

    run(tmp_path, f"sqlite:///{path}", read_keys)


@pytest.mark.postgres
def test_sigkill_mid_group_commit_on_postgres(tmp_path: Path) -> None:
    require_pg()
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database_sync())

        def read_keys() -> dict[str, str]:
            async def query() -> dict[str, str]:
                conn = await asyncpg.connect(url)
                try:
                    rows = await conn.fetch(
                        "SELECT k.key, j.id FROM idempotency_keys k JOIN jobs j ON j.id = k.job_id"
                    )
                    jobs = await conn.fetchval("SELECT count(*) FROM jobs")
                finally:
                    await conn.close()
                assert jobs == len(rows)
                return {row["key"]: row["id"] for row in rows}

            return asyncio.run(query())

        run(tmp_path, url, read_keys)
