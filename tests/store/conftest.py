"""One store per test, on SQLite (a file) and on PostgreSQL (a database per module, emptied
between tests). Every test in this folder runs on both (the backend fixtures: tests/conftest.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import Store
from tests.backends import OpenStore, open_empty_store
from tests.pg import fresh_database


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
    opened = await open_empty_store(database_url)
    try:
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
