"""PostgreSQL for tests: is a server reachable, and throw-away databases on it.

The server is the one at ``GATEWAY_TEST_PG_URL`` (CI: ``postgres@127.0.0.1:5432/test``, trust
auth). Without it PostgreSQL tests are skipped, except under ``CI``, where they fail: a CI run
that silently skipped them would prove nothing.

Each fresh database gets a unique name (``gw_test_<pid>_<random>``) and a plain
``postgresql://`` URL that works from any process (the gateway maps it onto asyncpg itself),
and is dropped afterwards with ``WITH (FORCE)``, so connections left open by a killed replica
do not keep it alive.

Usage::

    from tests.pg import fresh_database, require_pg

    async def test_something() -> None:
        require_pg()
        async with fresh_database() as url:
            store = await Store.open(url)
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

CONNECT_TIMEOUT_S = 2.0

T = TypeVar("T")


def _plain(url: str) -> str:
    """The URL as asyncpg (and any other process) takes it: ``postgresql://…``, no driver."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server (same host, port and user)."""
    return _plain(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))


def _safe_url(url: str) -> str:
    """The URL for messages: never with a password in it."""
    return make_url(url).render_as_string(hide_password=True)


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion in a thread of its own (callable with or without a loop)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        async def main() -> T:
            return await factory()

        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:  # handed back to the calling thread below
            error.append(exc)

    thread = threading.Thread(target=target, name="tests-pg", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(_plain(PG_ADMIN_URL), timeout=CONNECT_TIMEOUT_S)


@functools.cache
def pg_available() -> bool:
    """Whether the test server answers (one quick connect, remembered for the session)."""

    async def probe() -> bool:
        try:
            connection = await _admin()
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    return _run(probe)


def require_pg() -> None:
    """Skip the calling test when PostgreSQL is unreachable; fail it instead under CI."""
    if pg_available():
        return
    where = _safe_url(PG_ADMIN_URL)
    if os.environ.get("CI"):
        pytest.fail(f"CI=true but PostgreSQL at {where} is unreachable")
    pytest.skip(f"PostgreSQL not reachable at {where}; set GATEWAY_TEST_PG_URL or run in CI")


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {name!r}")
    return f'"{name}"'


async def create_database() -> str:
    """Create an empty database with a unique name; returns its name."""
    name = f"gw_test_{os.getpid()}_{secrets.token_hex(4)}"
    connection = await _admin()
    try:
        await connection.execute(f"CREATE DATABASE {_quoted(name)}")
    finally:
        await connection.close()
    return name


async def drop_database(name: str) -> None:
    """Drop a database made by :func:`create_database`, closing whatever still uses it."""
    connection = await _admin()
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new empty database for the duration of the block; yields its plain URL."""
    name = await create_database()
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


@contextlib.contextmanager
def fresh_database_sync() -> Iterator[str]:
    """:func:`fresh_database` for synchronous code (module fixtures, process-level tests)."""
    name = _run(create_database)
    try:
        yield database_url(name)
    finally:
        _run(lambda: drop_database(name))
