"""Migration 0013 on a database that holds deliveries and attempts: ``deliveries.job_id``
becomes nullable (a delivery without a job can be written), every row and attempt id is kept,
and the foreign keys still hold (SQLite rebuilds the tables with enforcement on)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.store import Store
from gateway.store.database import Database
from gateway.store.schema import deliveries, delivery_attempts
from tests.store.builders import T0
from tests.store.test_bigint_ids import _populate, _upgrade_to

BEFORE = "0012"


async def test_the_migration_keeps_every_row_and_lets_a_delivery_have_no_job(
    fresh_database_url: str,
) -> None:
    db = Database.connect(fresh_database_url)
    store = Store(db)
    try:
        async with db.write() as conn:
            await conn.run_sync(_upgrade_to, BEFORE)
        job_id, delivery_id = await _populate(store)
        async with db.read() as conn:
            before = (await conn.execute(sa.select(delivery_attempts))).all()

        await db.migrate()

        async with db.write() as conn:
            await conn.execute(
                deliveries.insert().values(
                    id="msg_jobless",
                    job_id=None,
                    client_id="cli_a",
                    event_type="subscription.disabled",
                    url="https://hooks.test/ops",
                    payload="{}",
                    state="pending",
                    created_at=T0,
                    updated_at=T0,
                )
            )
        async with db.read() as conn:
            after = (await conn.execute(sa.select(delivery_attempts))).all()
            rows = (await conn.execute(sa.select(deliveries.c.id, deliveries.c.job_id))).all()
            names = await conn.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("subscriptions")}
            )
        jobs_of = {row.id: row.job_id for row in rows}
        assert before == after
        assert {delivery_id: job_id, "msg_jobless": None} == jobs_of
        assert {"headers", "filter", "throttle", "failing_since", "dead_count"} <= names
        with pytest.raises(sa.exc.IntegrityError):  # an attempt of no delivery is refused
            async with db.write() as conn:
                await conn.execute(
                    delivery_attempts.insert().values(
                        delivery_id="msg_none", attempt=1, attempted_at=T0, latency_ms=1.0
                    )
                )
    finally:
        await db.dispose()
