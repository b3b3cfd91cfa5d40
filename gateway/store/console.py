"""Console sessions and one-time sign-in links: rows every replica reads and writes.

Rows are keyed by the SHA-256 of a token (the caller hashes); a session is live while its row
exists and has not expired; a link is taken (deleted) by the one request that redeems it.
Expired rows are swept when new ones are written.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.database import Database
from gateway.store.schema import console_sessions, console_sign_in_links

# Read on every console request: built once.
_LIVE = sa.select(sa.literal(1)).where(
    console_sessions.c.id == sa.bindparam("id"),
    console_sessions.c.expires_at > sa.bindparam("now"),
)


class ConsoleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def start_session(
        self, session_hash: str, *, kind: str, key_hash: str, now: float, expires_at: float
    ) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                sa.delete(console_sessions).where(console_sessions.c.expires_at <= now)
            )
            await conn.execute(
                sa.insert(console_sessions).values(
                    id=session_hash,
                    kind=kind,
                    key_hash=key_hash,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def session_is_live(self, session_hash: str, *, now: float) -> bool:
        async with self.db.read() as conn:
            found = await conn.execute(_LIVE, {"id": session_hash, "now": now})
            return found.first() is not None

    async def end_session(self, session_hash: str) -> bool:
        """Forget the session (signing out); False when it was not there."""
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.delete(console_sessions).where(console_sessions.c.id == session_hash)
            )
        return bool(result.rowcount)

    async def add_link(
        self, link_hash: str, *, kind: str, key_hash: str, now: float, expires_at: float
    ) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                sa.delete(console_sign_in_links).where(console_sign_in_links.c.expires_at <= now)
            )
            await conn.execute(
                sa.insert(console_sign_in_links).values(
                    id=link_hash, kind=kind, key_hash=key_hash, expires_at=expires_at
                )
            )

    async def take_link(self, link_hash: str, *, now: float) -> tuple[str, str] | None:
        """The link's (kind, key hash), deleted as it is read, so that of two requests that
        redeem it at once (on any replicas) one gets it; None when unknown, used or expired."""
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    sa.delete(console_sign_in_links)
                    .where(console_sign_in_links.c.id == link_hash)
                    .returning(
                        console_sign_in_links.c.kind,
                        console_sign_in_links.c.key_hash,
                        console_sign_in_links.c.expires_at,
                    )
                )
            ).first()
        if row is None or row.expires_at <= now:
            return None
        return str(row.kind), str(row.key_hash)
