"""The ids of the tables that grow without bound (``job_events``, ``delivery_attempts``) go past
2^31 - 1: migration 0008 widens them (and their PostgreSQL sequences) to 64 bits on a database
that already holds rows, and keeps every row."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from gateway.store import Store
from gateway.store.database import Database, alembic_config
from gateway.store.schema import delivery_attempts, job_events
from tests.store.builders import T0, add_job, client_record, new_delivery

BEFORE = "0007"  # the revision before the ids were widened
PAST_INT32 = 2**31 + 5
GROWING = (job_events, delivery_attempts)


def _upgrade_to(sync: sa.Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync
    command.upgrade(config, revision)


async def _populate(store: Store) -> tuple[str, str]:
    """A client, a job with a history row and a delivery with one attempt, the last three
    written in SQL (the store's code follows the newest schema)."""
    db = store.db
    client = client_record("cli_a")
    async with db.write() as conn:  # the columns every revision has (later ones add more)
        await conn.execute(
            sa.text(
                "INSERT INTO clients (id, name, api_key_hash, webhook_secret, created_at) "
                "VALUES (:id, :name, :hash, :secret, :t)"
            ),
            {
                "id": client.id,
                "name": client.name,
                "hash": client.api_key_hash,
                "secret": client.webhook_secret,
                "t": client.created_at,
            },
        )
    job = await add_job(store)
    delivery = new_delivery(job)
    async with db.write() as conn:
        await conn.execute(
            job_events.insert().values(
                job_id=job.id,
                client_id=job.client_id,
                kind="accepted",
                at=T0,
                status="accepted",
                polls=0,
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO deliveries (id, job_id, client_id, event_type, url, payload, state, "
                "created_at, updated_at) VALUES (:id, :job, :client, 'video.completed', "
                "'https://hooks.test/in', '{}', 'pending', :t, :t)"
            ),
            {"id": delivery.id, "job": job.id, "client": job.client_id, "t": T0},
        )
        await conn.execute(
            delivery_attempts.insert().values(
                delivery_id=delivery.id, attempt=1, attempted_at=T0, latency_ms=1.0
            )
        )
    return job.id, delivery.id


async def _move_past_int32(db: Database) -> None:
    """Make the next generated id of each growing table exceed 2^31 - 1."""
    async with db.write() as conn:
        for table in GROWING:
            if db.is_sqlite:  # the rowid is 64 bits; an explicit id moves its counter on
                continue
            await conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
                {"table": table.name, "value": PAST_INT32},
            )


async def test_ids_go_past_int32_after_the_migration_on_a_populated_database(
    fresh_database_url: str,
) -> None:
    db = Database.connect(fresh_database_url)
    store = Store(db)
    try:
        async with db.write() as conn:
            await conn.run_sync(_upgrade_to, BEFORE)
        job_id, delivery_id = await _populate(store)

        await db.migrate()  # to head: 0008 widens the ids
        await _move_past_int32(db)
        async with db.write() as conn:
            if db.is_sqlite:  # an explicit id past 2^31; the next generated one follows it
                await conn.execute(
                    job_events.insert().values(
                        id=PAST_INT32,
                        job_id=job_id,
                        client_id="cli_a",
                        kind="note",
                        at=T0,
                        status="accepted",
                        polls=0,
                    )
                )
                await conn.execute(
                    delivery_attempts.insert().values(
                        id=PAST_INT32,
                        delivery_id=delivery_id,
                        attempt=2,
                        attempted_at=T0,
                        latency_ms=1.0,
                    )
                )
            new_event = await conn.execute(
                job_events.insert()
                .values(
                    job_id=job_id,
                    client_id="cli_a",
                    kind="note",
                    at=T0 + 1,
                    status="accepted",
                    polls=0,
                )
                .returning(job_events.c.id)
            )
            new_attempt = await conn.execute(
                delivery_attempts.insert()
                .values(delivery_id=delivery_id, attempt=3, attempted_at=T0 + 1, latency_ms=1.0)
                .returning(delivery_attempts.c.id)
            )
            generated = (new_event.scalar_one(), new_attempt.scalar_one())
        async with db.read() as conn:
            kept = [
                (await conn.execute(sa.select(sa.func.min(table.c.id)))).scalar_one()
                for table in GROWING
            ]
        assert [1, 1] == kept  # the rows written before the migration are still there
        assert all(value > PAST_INT32 for value in generated), generated
        after = await store.history.list_for_job(job_id, after_id=2**31)
        assert [generated[0]] == [event.id for event in after if event.kind == "note"][-1:]
    finally:
        await store.close()


async def test_postgresql_sequences_are_64_bit(store: Store) -> None:
    """A ``serial`` sequence stays capped at 2^31 - 1 unless it is altered too."""
    if store.db.is_sqlite:
        return  # no sequences: the rowid is 64 bits
    async with store.db.read() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT c.table_name, c.data_type, s.data_type, s.maximum_value "
                    "FROM information_schema.columns c JOIN information_schema.sequences s "
                    "ON s.sequence_name = c.table_name || '_id_seq' "
                    "WHERE c.column_name = 'id' AND c.table_name IN "
                    "('job_events', 'delivery_attempts') ORDER BY c.table_name"
                )
            )
        ).all()
    assert [
        ("delivery_attempts", "bigint", "bigint", str(2**63 - 1)),
        ("job_events", "bigint", "bigint", str(2**63 - 1)),
    ] == [tuple(row) for row in rows]
