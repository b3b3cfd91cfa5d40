"""Schema migrations at start-up: idempotent, and safe when replicas start together."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.store import Store
from gateway.store.database import Database, alembic_config
from gateway.store.schema import metadata
from tests.store.builders import add_client, add_job


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def schema_state(db: Database) -> tuple[list[str], list[str]]:
    """The alembic version rows and the gateway's tables present in the database."""
    async with db.read() as conn:
        versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
        tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    return [row[0] for row in versions], sorted(set(tables) & set(metadata.tables))


async def test_migrate_again_changes_nothing(store: Store) -> None:
    """A second ``migrate()`` on a migrated database keeps the schema, the version and the rows."""
    await add_client(store)
    job = await add_job(store)
    before = await schema_state(store.db)

    await store.db.migrate()

    assert ([head_revision()], sorted(metadata.tables)) == before
    assert before == await schema_state(store.db)
    assert job == await store.jobs.get_job(job.id)


async def test_concurrent_migrations_on_a_fresh_database_both_succeed(
    fresh_database_url: str,
) -> None:
    """Two replicas migrating one empty database at once both succeed; the schema ends at head."""
    first = Database.connect(fresh_database_url)
    second = Database.connect(fresh_database_url)
    try:
        await asyncio.gather(first.migrate(), second.migrate())
        assert ([head_revision()], sorted(metadata.tables)) == await schema_state(first)
    finally:
        await first.dispose()
        await second.dispose()
    store = await Store.open(fresh_database_url)
    try:
        await add_client(store)
        assert 1 == len(await store.clients.list())
    finally:
        await store.close()


async def test_the_migrations_build_exactly_the_schema_module(store: Store) -> None:
    """Alembic finds no difference between the migrated database and ``schema.metadata``."""

    def differences(sync: sa.Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_server_default": False})
        return list(compare_metadata(context, metadata))

    async with store.db.read() as conn:
        assert [] == await conn.run_sync(differences)
