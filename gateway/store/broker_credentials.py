"""Broker targets' credentials, stored apart from the subscriptions' URLs (issue 28).

Written and removed with their subscription (``SubscriptionStore.create``/``delete``, in the
same transaction); read here: sealed (encrypted) for the worker that publishes, masked for
the views. The store never sees them in the clear.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from gateway.store.database import Database
from gateway.store.records import SealedCredentials, could_be_id
from gateway.store.schema import broker_credentials

# Read on every delivery attempt to a broker target that has credentials: built once.
_BY_SUBSCRIPTION = sa.select(broker_credentials.c.sealed, broker_credentials.c.masked).where(
    broker_credentials.c.subscription_id == sa.bindparam("subscription_id")
)


class BrokerCredentialStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_subscription(self, subscription_id: str) -> SealedCredentials | None:
        """The stored credentials of a subscription's target, if it has any."""
        if not could_be_id(subscription_id):
            return None
        async with self.db.read() as conn:
            row = (
                await conn.execute(_BY_SUBSCRIPTION, {"subscription_id": subscription_id})
            ).first()
        return None if row is None else SealedCredentials(sealed=row.sealed, masked=row.masked)

    async def masked(self, subscription_ids: Sequence[str]) -> dict[str, str]:
        """The masked credentials of those of ``subscription_ids`` that have some."""
        ids = [i for i in subscription_ids if could_be_id(i)]
        if not ids:
            return {}
        query = sa.select(broker_credentials.c.subscription_id, broker_credentials.c.masked).where(
            broker_credentials.c.subscription_id.in_(ids)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {row.subscription_id: row.masked for row in rows}
