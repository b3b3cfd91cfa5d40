"""Subscriptions (REST hooks): create, list, delete per client; deactivate on a 410."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from gateway.store.database import Database
from gateway.store.records import (
    SealedCredentials,
    SubscriptionRecord,
    could_be_id,
    subscription_from_row,
)
from gateway.store.schema import broker_credentials, clients, subscriptions

# Read at every status change that has an event: built once.
_ACTIVE_FOR_CLIENT = (
    sa.select(subscriptions)
    .where(subscriptions.c.client_id == sa.bindparam("client_id"), subscriptions.c.active)
    .order_by(subscriptions.c.created_at, subscriptions.c.id)
)


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        subscription: SubscriptionRecord,
        *,
        limit: int,
        credentials: SealedCredentials | None = None,
    ) -> bool:
        """Insert ``subscription`` if its client has fewer than ``limit`` active ones; False
        (nothing written) when it has that many already.

        The count and the insert run under the client's row lock, so creates that race (on
        one replica or several) take turns: on PostgreSQL ``SELECT … FOR UPDATE`` of the
        client's row, after which the count (a statement of its own, with a snapshot taken
        once the lock is held, at READ COMMITTED) sees every subscription committed before
        (``FOR NO KEY UPDATE``: creates take turns, while intake's foreign-key checks on the
        same row, ``KEY SHARE``, do not wait); on SQLite the single writer already serialises
        whole write transactions. A broker target's ``credentials`` are stored apart, in the
        same transaction."""
        models = subscription.models
        async with self.db.write() as conn:
            if not self.db.is_sqlite:
                await conn.execute(
                    sa.select(clients.c.id)
                    .where(clients.c.id == subscription.client_id)
                    .with_for_update(key_share=True)
                )
            active = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        subscriptions.c.client_id == subscription.client_id,
                        subscriptions.c.active,
                    )
                )
            ).scalar_one()
            if int(active) >= limit:
                return False
            await conn.execute(
                sa.insert(subscriptions).values(
                    id=subscription.id,
                    client_id=subscription.client_id,
                    target_url=subscription.target_url,
                    events=msgspec.json.encode(subscription.events).decode(),
                    models=None if models is None else msgspec.json.encode(models).decode(),
                    active=subscription.active,
                    created_at=subscription.created_at,
                )
            )
            if credentials is not None:
                await conn.execute(
                    sa.insert(broker_credentials).values(
                        subscription_id=subscription.id,
                        client_id=subscription.client_id,
                        sealed=credentials.sealed,
                        masked=credentials.masked,
                    )
                )
        return True

    async def list_for_client(self, client_id: str) -> list[SubscriptionRecord]:
        """Every subscription of the client (active or not), oldest first."""
        query = (
            sa.select(subscriptions)
            .where(subscriptions.c.client_id == client_id)
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [subscription_from_row(row) for row in rows]

    async def active_for_client(self, client_id: str) -> list[SubscriptionRecord]:
        async with self.db.read() as conn:
            rows = (await conn.execute(_ACTIVE_FOR_CLIENT, {"client_id": client_id})).all()
        return [subscription_from_row(row) for row in rows]

    async def delete(self, subscription_id: str, *, client_id: str) -> bool:
        """Remove a client's subscription; False when it has none by that id."""
        if not could_be_id(subscription_id):
            return False
        async with self.db.write() as conn:
            await conn.execute(
                sa.delete(broker_credentials).where(
                    broker_credentials.c.subscription_id == subscription_id,
                    broker_credentials.c.client_id == client_id,
                )
            )
            result = await conn.execute(
                sa.delete(subscriptions).where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.client_id == client_id,
                )
            )
        return bool(result.rowcount)

    async def deactivate(self, subscription_id: str, *, now: float, reason: str) -> bool:
        """Stop sending to it (its target answered 410 Gone); False if already inactive."""
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == subscription_id, subscriptions.c.active)
                .values(active=False, deactivated_at=now, deactivated_reason=reason)
            )
        return bool(result.rowcount)
