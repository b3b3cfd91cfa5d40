"""Issue 31's partitions, reproduced with network namespaces and nftables made by the test
(``tests/partition/netns.py``): replica A runs as ``gateway serve`` in a namespace of its own,
its path to PostgreSQL is cut by dropping packets silently (no error to either side), its HTTP
path stays open.

The fast case runs in CI (root there; ``.ci/run`` installs iproute2 and nftables); without root
or the tools it is skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from gateway.testing.processes import GatewayProcess
from tests.partition import netns
from tests.pg import fresh_database, require_pg

CLIENT_KEY = "gw_partition_client_key_0123456789"
BOUND_S = 2.0
JOB = {"prompt": "a horse", "callback_url": "https://hooks.test/in"}
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
A_PORT = 8000  # inside A's namespace: nothing else listens there


def require_namespaces() -> None:
    reason = netns.unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def timed(request: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(60):
        response = await request  # type: ignore[misc]
    return response, time.monotonic() - started


async def test_a_replica_cut_from_postgresql_answers_503_within_the_bound(
    tmp_path: Path,
) -> None:
    """A's packets to and from PostgreSQL dropped: intake, the list and /readyz on A answer 503
    store_unavailable within about GATEWAY_DB_TIMEOUT_S (not after the heal, as the issue saw:
    107 s); after the heal A serves again by itself. The fast case, run in CI."""
    require_namespaces()
    require_pg()
    async with fresh_database() as url, replica_a_in_its_namespace(url, tmp_path) as (part, a):
        accepted = await a.post("/v1/jobs", json=JOB, headers=AUTH)
        assert 202 == accepted.status_code, accepted.text
        part.cut(5432)
        cut = [
            await timed(a.post("/v1/jobs", json=JOB, headers=AUTH)),
            await timed(a.get("/v1/jobs", headers=AUTH)),
            await timed(a.get("/readyz")),
        ]
        part.heal()
        await wait_until(lambda: _status_is(a, "/readyz", 200), timeout_s=30)
        after = await a.post("/v1/jobs", json=JOB, headers=AUTH)

    for response, elapsed in cut:
        assert 503 == response.status_code, response.text
        assert "store_unavailable" == response.json()["error"]["code"]
        assert "retry-after" in response.headers
        assert elapsed < BOUND_S * 2.5, f"{response.request.url} took {elapsed:.2f} s"
    assert 202 == after.status_code, after.text


async def _status_is(http: httpx.AsyncClient, path: str, status: int) -> bool:
    try:
        return (await http.get(path)).status_code == status
    except httpx.HTTPError:
        return False


async def wait_until(condition: object, *, timeout_s: float) -> None:
    """Await ``condition()`` (an async predicate) until true, for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def replica_a_in_its_namespace(
    url: str, tmp_path: Path
) -> AsyncIterator[tuple[netns.Partition, httpx.AsyncClient]]:
    """``gateway serve`` (API only) in namespace "a", PostgreSQL through namespace "db"."""
    pg = urlsplit(url)
    with netns.partition() as part:
        db_listen = netns.socket_in(part.db_ns)
        db_listen.bind((part.db_address, 5432))
        http_listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        http_listen.bind(("127.0.0.1", 0))
        async with (
            netns.forwarder(db_listen, ("127.0.0.1", pg.port or 5432)),
            netns.forwarder(
                http_listen, (part.a_address, A_PORT), connect_from=part.db_ns
            ) as http_port,
        ):
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
                "GATEWAY_HOST": part.a_address,
                "GATEWAY_PORT": str(A_PORT),
                "GATEWAY_DATABASE_URL": url.replace(
                    pg.netloc, f"{pg.username}@{part.db_address}:5432"
                ),
                "GATEWAY_DB_TIMEOUT_S": str(BOUND_S),
                "GATEWAY_CLIENT_API_KEY": CLIENT_KEY,
                "AIMLAPI_KEY": "upstream-key-unused-here",
                "GATEWAY_UPSTREAM_URL": "http://127.0.0.1:9",
                "GATEWAY_WORKER": "false",
                "GATEWAY_OUTPUTS": "link",  # no videos kept: nothing to share
                "GATEWAY_REPLICA_ID": "a",
                "GATEWAY_LOG_FORMAT": "json",
            }
            log = (tmp_path / "a.log").open("wb")
            a = subprocess.Popen(
                ["ip", "netns", "exec", part.a_ns, sys.executable, "-m", "gateway.cli", "serve"],
                env=env, stdout=log, stderr=log,
            )  # fmt: skip
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{http_port}", timeout=120
                ) as http:

                    async def ready() -> bool:
                        assert a.poll() is None, (tmp_path / "a.log").read_text()
                        try:
                            return (await http.get("/readyz")).status_code == 200
                        except httpx.HTTPError:
                            return False

                    await wait_until(ready, timeout_s=90)
                    yield part, http
            finally:
                a.terminate()
                try:
                    a.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    a.kill()
                    a.wait(timeout=30)
                log.close()


@pytest.mark.partition
async def test_b_intake_stays_under_5_s_while_a_is_cut_under_load(tmp_path: Path) -> None:
    """By hand (``-m partition``): replica A takes a stream of jobs for one client when its
    path to PostgreSQL is cut (often between a statement and its COMMIT, holding the client's
    rate-window row); replica B (on loopback, the same database) takes jobs for the same client
    meanwhile: each of B's answers comes within 5 s (the issue saw 53.5 s), and A answers 503
    rather than hanging."""
    require_namespaces()
    require_pg()
    async with fresh_database() as url:
        b = GatewayProcess(
            {
                "GATEWAY_DATABASE_URL": url,
                "GATEWAY_DB_TIMEOUT_S": str(BOUND_S),
                "GATEWAY_CLIENT_API_KEY": CLIENT_KEY,
                "AIMLAPI_KEY": "upstream-key-unused-here",
                "GATEWAY_UPSTREAM_URL": "http://127.0.0.1:9",
                "GATEWAY_WORKER": "false",
                "GATEWAY_OUTPUTS": "link",  # no videos kept: nothing to share
                "GATEWAY_REPLICA_ID": "b",
            },
            log_path=tmp_path / "b.log",
        )
        await asyncio.to_thread(b.start)
        try:
            async with (
                replica_a_in_its_namespace(url, tmp_path) as (part, a),
                httpx.AsyncClient(base_url=b.url, timeout=120) as b_http,
            ):
                stop = asyncio.Event()
                a_answers: list[int] = []

                async def load_a() -> None:
                    while not stop.is_set():
                        with contextlib.suppress(httpx.HTTPError):
                            response = await a.post("/v1/jobs", json=JOB, headers=AUTH)
                            a_answers.append(response.status_code)

                loaders = [asyncio.ensure_future(load_a()) for _ in range(8)]
                await wait_until(_at_least(a_answers, 20), timeout_s=30)
                part.cut(5432)
                held = await _idle_in_transaction(url)
                b_timings = [await timed(b_http.post("/v1/jobs", json=JOB, headers=AUTH))
                             for _ in range(10)]  # fmt: skip
                await wait_until(_answered(a_answers, 503), timeout_s=30)  # A, while cut
                part.heal()
                stop.set()
                await asyncio.gather(*loaders)
        finally:
            b.kill()

    slowest = max(elapsed for _, elapsed in b_timings)
    print(f"A's sessions idle in a transaction at the cut: {held}; B's slowest: {slowest:.2f} s")
    assert slowest < 5.0, f"B's slowest intake took {slowest:.2f} s"
    assert {r.status_code for r, _ in b_timings} <= {202, 503}


async def _idle_in_transaction(url: str) -> int:
    """How many sessions of the database are idle in a transaction (A's, cut mid-way)."""
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state = 'idle in transaction'"
        )
    finally:
        await conn.close()
    return int(count)


def _answered(answers: list[int], status: int) -> Callable[[], Awaitable[bool]]:
    async def seen() -> bool:
        return status in answers

    return seen


def _at_least(answers: list[int], n: int) -> Callable[[], Awaitable[bool]]:
    async def enough() -> bool:
        return len(answers) >= n

    return enough
