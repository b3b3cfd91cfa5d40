"""API clients: hashed keys, per-client webhook signing secrets with rotation, revocation.

Every change to a client notifies the other replicas in its transaction (PostgreSQL), so that
they drop it from their in-memory key caches (``gateway.service.client_keys``)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gateway.store.database import Database
from gateway.store.records import ClientRecord, client_from_row, could_be_id
from gateway.store.schema import clients

# Run on every authenticated request: built once.
_ACTIVE_BY_KEY_HASH = sa.select(clients).where(
    clients.c.api_key_hash == sa.bindparam("api_key_hash"), clients.c.revoked_at.is_(None)
)


class ClientStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, client: ClientRecord) -> None:
        async with self.db.write() as conn:
            await conn.execute(sa.insert(clients).values(**_values(client)))

    async def ensure(self, client: ClientRecord, *, keep_secret: bool = False) -> ClientRecord:
        """The bootstrap client, as stored once this returns: inserted if its id is new; else
        its key hash (and, unless ``keep_secret``, its secret) brought up to ``client``'s.

        Insert-if-absent, then update, then read, in one transaction: replicas starting
        together never fail on each other's insert, and with ``keep_secret`` (a secret the
        gateway generated, none configured) the first one stored is the one every replica
        reads back, however the starts interleave."""
        insert = (sqlite.insert if self.db.is_sqlite else postgresql.insert)(clients)
        async with self.db.write() as conn:
            inserted = await conn.execute(insert.values(**_values(client)).on_conflict_do_nothing())
            if inserted.rowcount != 1:
                changed = clients.c.api_key_hash != client.api_key_hash
                changes: dict[str, object] = {"api_key_hash": client.api_key_hash}
                if not keep_secret:
                    changed = sa.or_(changed, clients.c.webhook_secret != client.webhook_secret)
                    changes["webhook_secret"] = client.webhook_secret
                updated = await conn.execute(
                    sa.update(clients).where(clients.c.id == client.id, changed).values(**changes)
                )
                if updated.rowcount:
                    await self.db.notify_client_changed(conn, client.id)
            row = (await conn.execute(sa.select(clients).where(clients.c.id == client.id))).one()
        return client_from_row(row)

    async def get(self, client_id: str) -> ClientRecord | None:
        if not could_be_id(client_id):
            return None
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(clients).where(clients.c.id == client_id))).first()
        return None if row is None else client_from_row(row)

    async def by_key_hash(self, api_key_hash: str) -> ClientRecord | None:
        """The active (not revoked) client holding this key hash."""
        async with self.db.read() as conn:
            row = (await conn.execute(_ACTIVE_BY_KEY_HASH, {"api_key_hash": api_key_hash})).first()
        return None if row is None else client_from_row(row)

    async def list(self) -> list[ClientRecord]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(clients).order_by(clients.c.created_at))).all()
        return [client_from_row(row) for row in rows]

    async def revoke(self, client_id: str, *, now: float) -> ClientRecord | None:
        if not could_be_id(client_id):
            return None
        async with self.db.write() as conn:
            await conn.execute(
                sa.update(clients)
                .where(clients.c.id == client_id, clients.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await self.db.notify_client_changed(conn, client_id)
        return await self.get(client_id)

    async def rotate_secret(
        self, client_id: str, *, new_secret: str, previous_until: float
    ) -> ClientRecord | None:
        """Make ``new_secret`` current; the old one signs second until ``previous_until``."""
        return await self._change_active(
            client_id,
            previous_webhook_secret=clients.c.webhook_secret,
            previous_secret_until=previous_until,
            webhook_secret=new_secret,
        )

    async def configure(
        self,
        client_id: str,
        *,
        broker_allowlist: Sequence[str] | None = None,
        signing_mode: str | None = None,
        ed25519_key: str | None = None,
    ) -> ClientRecord | None:
        """Change what is given (the allow-list, the signing mode, a first ed25519 key — set
        only where the client has none yet); the client as stored after, None if unknown."""
        if not could_be_id(client_id):
            return None
        changes: dict[str, object] = {}
        if broker_allowlist is not None:
            changes["broker_allowlist"] = msgspec.json.encode(list(broker_allowlist)).decode()
        if signing_mode is not None:
            changes["signing_mode"] = signing_mode
        if ed25519_key is not None:
            changes["ed25519_key"] = sa.func.coalesce(clients.c.ed25519_key, ed25519_key)
        async with self.db.write() as conn:
            if changes:
                result = await conn.execute(
                    sa.update(clients).where(clients.c.id == client_id).values(**changes)
                )
                if result.rowcount != 1:
                    return None
                await self.db.notify_client_changed(conn, client_id)
        return await self.get(client_id)

    async def rotate_ed25519_key(
        self, client_id: str, *, new_key: str, previous_until: float
    ) -> ClientRecord | None:
        """Make ``new_key`` the ed25519 key; the old one (if any) signs second until
        ``previous_until``."""
        return await self._change_active(
            client_id,
            previous_ed25519_key=clients.c.ed25519_key,
            previous_ed25519_until=previous_until,
            ed25519_key=new_key,
        )

    async def _change_active(self, client_id: str, **values: object) -> ClientRecord | None:
        """Set ``values`` on a client that is not revoked, telling the other replicas; the
        client as stored after, None if unknown or revoked."""
        if not could_be_id(client_id):
            return None
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.update(clients)
                .where(clients.c.id == client_id, clients.c.revoked_at.is_(None))
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            await self.db.notify_client_changed(conn, client_id)
        return await self.get(client_id)


def _values(client: ClientRecord) -> dict[str, object]:
    return {
        "id": client.id,
        "name": client.name,
        "api_key_hash": client.api_key_hash,
        "webhook_secret": client.webhook_secret,
        "previous_webhook_secret": client.previous_webhook_secret,
        "previous_secret_until": client.previous_secret_until,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
        "broker_allowlist": msgspec.json.encode(client.broker_allowlist).decode(),
        "signing_mode": client.signing_mode,
        "ed25519_key": client.ed25519_key,
        "previous_ed25519_key": client.previous_ed25519_key,
        "previous_ed25519_until": client.previous_ed25519_until,
        "output_retention_s": client.output_retention_s,
    }
