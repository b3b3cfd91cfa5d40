"""Console sessions and one-time sign-in links, kept in the database.

A signed-in console session is a random token (carried in the signed cookie) whose SHA-256 is a
row: every console request checks the row, so signing out (the row deleted) ends the session at
once, on every replica, for every copy of the cookie. A one-time sign-in link (``gateway dev``
prints one) is a row too: any replica redeems it, once, before it expires. The database holds
only hashes: a copy of it signs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from gateway.service.ports import ConsoleRows, StorePort

SESSION_TTL_S = 12 * 3600.0
LINK_TTL_S = 300.0

SignedInKind = Literal["client", "admin"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessions:
    """The console's server-side sessions and sign-in links (over ``store.console``)."""

    def __init__(self, rows: ConsoleRows) -> None:
        self._rows = rows

    async def start(self, kind: SignedInKind, key_hash: str, *, now: float) -> str:
        """A new session of someone signed in with the key of ``key_hash``: its token."""
        token = secrets.token_urlsafe(32)
        await self._rows.start_session(
            _digest(token), kind=kind, key_hash=key_hash, now=now, expires_at=now + SESSION_TTL_S
        )
        return token

    async def is_live(self, token: str, *, now: float) -> bool:
        """Whether the session is still on: not signed out of, not expired."""
        return bool(token) and await self._rows.session_is_live(_digest(token), now=now)

    async def end(self, token: str) -> None:
        """Sign out: the session ends everywhere, whoever holds a copy of its cookie."""
        if token:
            await self._rows.end_session(_digest(token))

    async def issue_link(self, kind: SignedInKind, key_hash: str, *, now: float) -> str:
        """A token for a one-time sign-in link, valid for ``LINK_TTL_S`` on any replica."""
        token = secrets.token_urlsafe(32)
        await self._rows.add_link(
            _digest(token), kind=kind, key_hash=key_hash, now=now, expires_at=now + LINK_TTL_S
        )
        return token

    async def redeem_link(self, token: str, *, now: float) -> tuple[SignedInKind, str] | None:
        """(kind, key hash) the link signs in, once; None when unknown, used or expired."""
        if not token:
            return None
        found = await self._rows.take_link(_digest(token), now=now)
        if found is None or found[0] not in ("client", "admin"):
            return None
        kind: SignedInKind = "admin" if found[0] == "admin" else "client"
        return kind, found[1]


async def issue_sign_in_link(
    store: StorePort, kind: SignedInKind, key_hash: str, *, now: float
) -> str:
    """A one-time sign-in link's token, written to ``store`` (``gateway dev``, before its app
    starts)."""
    return await ConsoleSessions(store.console).issue_link(kind, key_hash, now=now)
