"""One store per test, on SQLite (a file) and on PostgreSQL (a database per module, emptied
between tests). Every test in this folder runs on both."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.schema import metadata
from tests.pg import fresh_database, fresh_database_sync, require_pg

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """A PostgreSQL database shared by the tests of one module (each test empties it first)."""
    require_pg()
    with fresh_database_sync() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        require_pg()
    return name


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL the ``store`` fixture opens (a second ``Store`` may open it too)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_module_url")
    return url


@pytest.fixture
async def fresh_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of a database with no schema yet (not even Alembic's version table).

    For SQLite that is an existing, empty file already in WAL mode. (Two processes migrating a
    zero-byte file at the same instant can still race on SQLite: a known, reported gap.)
    """
    if backend == "sqlite":
        path = tmp_path / "fresh.db"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        yield f"sqlite:///{path}"
        return
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An opened (migrated) and empty store."""
    opened = await Store.open(database_url)
    try:
        if not opened.db.is_sqlite:
            # DELETE is quicker than TRUNCATE on tables this small; children before parents.
            async with opened.db.write() as conn:
                for table in reversed(metadata.sorted_tables):
                    await conn.execute(table.delete())
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def open_store(store: Store, database_url: str) -> AsyncIterator[OpenStore]:
    """Open more ``Store`` objects on the same database (closed at the end of the test)."""
    opened: list[Store] = []

    async def open_one() -> Store:
        another = await Store.open(database_url)
        opened.append(another)
        return another

    yield open_one
    for another in opened:
        await another.close()
