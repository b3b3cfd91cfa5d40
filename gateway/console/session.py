"""Console sessions: a signed cookie that names a key by its hash, never the key itself.

The cookie holds who signed in (``client`` or ``admin``), the SHA-256 of the key they used, when,
the session's CSRF token and the session's token, signed with HMAC-SHA256. Each request checks
the session's row in the database (``gateway.service.console_sessions``: signing out deletes it,
so a copied cookie is refused afterwards, on every replica) and re-checks the hash against the
live key (a client's active key, or the configured admin key), so revoking or rotating a key
ends every session made with it. A session without a kind is anonymous: it only carries the CSRF
token of the sign-in form, and has no row.

One-time sign-in links (``gateway dev``) are rows too: single use, short-lived, on any replica.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from gateway.clock import Clock, system_clock
from gateway.ids import hash_api_key
from gateway.service.console_sessions import LINK_TTL_S as LINK_TTL_S  # re-exported
from gateway.service.console_sessions import SESSION_TTL_S as SESSION_TTL_S  # re-exported
from gateway.service.console_sessions import ConsoleSessions, SignedInKind

COOKIE_NAME = "gateway_console"

Kind = Literal["", "client", "admin"]


class Session(msgspec.Struct, frozen=True):
    kind: Kind
    key_hash: str
    issued_at: float
    csrf: str
    token: str = ""  # a signed-in session's token (its row: ``ConsoleSessions``); "" when anonymous

    @property
    def signed_in(self) -> bool:
        return self.kind != ""


def new_session(kind: Kind, key_hash: str, *, now: float, token: str = "") -> Session:
    return Session(
        kind=kind,
        key_hash=key_hash,
        issued_at=now,
        csrf=secrets.token_urlsafe(24),
        token=token,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Console:
    """The console's keys and clock, created once per process, over the sessions and sign-in
    links kept in the database (``sessions``).

    ``secret`` signs cookies; replicas behind one address must share it
    (``GATEWAY_CONSOLE_SECRET``). Without one, a random key is made: sessions then last as long
    as the process. ``admin_key`` is the operator's key (``GATEWAY_ADMIN_KEY``), known here only
    by its hash.
    """

    secret: str = field(default="", repr=False)
    admin_key: str = field(default="", repr=False)
    clock: Clock = system_clock
    sessions: ConsoleSessions = field(kw_only=True, repr=False)
    _key: bytes = field(init=False, repr=False)
    _admin_key_hash: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._key = (
            hashlib.sha256(b"console-session|" + self.secret.encode()).digest()
            if self.secret
            else secrets.token_bytes(32)
        )
        self._admin_key_hash = hash_api_key(self.admin_key) if self.admin_key else ""

    def is_admin_key(self, key_hash: str) -> bool:
        """Whether ``key_hash`` is the hash of the configured admin key (none: never)."""
        return bool(self._admin_key_hash) and hmac.compare_digest(self._admin_key_hash, key_hash)

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def seal(self, session: Session) -> str:
        payload = _b64(msgspec.json.encode(session))
        return f"{payload}.{self._mac(payload)}"

    def unseal(self, cookie: str | None, *, now: float) -> Session | None:
        """The session a cookie holds, if it is ours, intact and not expired (its row is not
        checked here: see :meth:`current`)."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return None
        try:
            session = msgspec.json.decode(_unb64(payload), type=Session)
        except (ValueError, msgspec.DecodeError):
            return None
        if not session.issued_at <= now < session.issued_at + SESSION_TTL_S:
            return None
        return session

    async def current(self, cookie: str | None) -> Session | None:
        """The session of a request's cookie: anonymous, or signed in and not signed out of."""
        now = self.clock()
        session = self.unseal(cookie, now=now)
        if session is None or not session.signed_in:
            return session
        return session if await self.sessions.is_live(session.token, now=now) else None

    async def start(self, kind: SignedInKind, key_hash: str) -> Session:
        """A fresh signed-in session (its row written), with a fresh CSRF token."""
        now = self.clock()
        token = await self.sessions.start(kind, key_hash, now=now)
        return new_session(kind, key_hash, now=now, token=token)

    async def end(self, session: Session) -> None:
        """Sign out: the session's row goes, so every copy of its cookie stops working."""
        await self.sessions.end(session.token)

    async def issue_link(self, kind: SignedInKind, key_hash: str) -> str:
        """A token for a one-time sign-in link (kept in the database as a hash)."""
        return await self.sessions.issue_link(kind, key_hash, now=self.clock())

    async def redeem_link(self, token: str) -> tuple[SignedInKind, str] | None:
        """(kind, key hash) a link signs in, once; None when unknown, used or expired."""
        return await self.sessions.redeem_link(token, now=self.clock())
