"""The storage backends every store-touching test runs on (fixtures and two helpers).

``backend`` is parametrised over SQLite (a file per test) and PostgreSQL (a database per module,
emptied between tests; skipped without a server, except under CI).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store import Store
from gateway.store.schema import job_events, metadata
from tests.pg import fresh_database_sync, require_pg

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


async def open_empty_store(url: str) -> Store:
    """Open (and migrate) the store at ``url`` and delete every row (PostgreSQL databases are
    shared by the tests of a module)."""
    opened = await Store.open(url)
    if not opened.db.is_sqlite:
        # DELETE is quicker than TRUNCATE on tables this small; children before parents.
        async with opened.db.write() as conn:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())
    return opened


async def latest_event_id(store: Store) -> int:
    """The id of the newest history row of any job (0 when there is none)."""
    async with store.db.read() as conn:
        value = (await conn.execute(sa.select(sa.func.max(job_events.c.id)))).scalar_one()
    return int(value or 0)
