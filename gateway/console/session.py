"""Console sessions: a signed cookie that names a key by its hash, never the key itself.

The cookie holds who signed in (``client`` or ``admin``), the SHA-256 of the key they used, when,
and the session's CSRF token, signed with HMAC-SHA256. Each request re-checks the hash against
the live key (a client's active key, or the configured admin key), so revoking or rotating a key
ends every session made with it. A session without a kind is anonymous: it only carries the CSRF
token of the sign-in form.

One-time sign-in links (``gateway dev``) live in this process's memory: single use, short-lived.
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

COOKIE_NAME = "gateway_console"
SESSION_TTL_S = 12 * 3600.0
LINK_TTL_S = 300.0

Kind = Literal["", "client", "admin"]


class Session(msgspec.Struct, frozen=True):
    kind: Kind
    key_hash: str
    issued_at: float
    csrf: str

    @property
    def signed_in(self) -> bool:
        return self.kind != ""


def new_session(kind: Kind, key_hash: str, *, now: float) -> Session:
    return Session(kind=kind, key_hash=key_hash, issued_at=now, csrf=secrets.token_urlsafe(24))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Console:
    """The console's keys, clock and one-time links, created once per process.

    ``secret`` signs cookies; replicas behind one address must share it
    (``GATEWAY_CONSOLE_SECRET``). Without one, a random key is made: sessions then last as long
    as the process. ``admin_key`` is the operator's key (``GATEWAY_ADMIN_KEY``), known here only
    by its hash.
    """

    secret: str = field(default="", repr=False)
    admin_key: str = field(default="", repr=False)
    clock: Clock = system_clock
    _key: bytes = field(init=False, repr=False)
    _admin_key_hash: str = field(init=False, repr=False)
    _links: dict[str, tuple[Kind, str, float]] = field(default_factory=dict, repr=False)

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

    def open(self, cookie: str | None, *, now: float) -> Session | None:
        """The session a cookie holds, if it is ours, intact and not expired."""
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

    def issue_link(self, kind: Kind, key_hash: str, *, now: float) -> str:
        """A token for a one-time sign-in link (kept in memory as a hash)."""
        token = secrets.token_urlsafe(32)
        self._links[hashlib.sha256(token.encode()).hexdigest()] = (kind, key_hash, now + LINK_TTL_S)
        return token

    def redeem_link(self, token: str, *, now: float) -> Session | None:
        """The session a link signs in, once; None when unknown, used or expired."""
        for digest, (_, _, expires) in list(self._links.items()):
            if expires <= now:
                del self._links[digest]
        found = self._links.pop(hashlib.sha256(token.encode()).hexdigest(), None)
        if found is None:
            return None
        kind, key_hash, _ = found
        return new_session(kind, key_hash, now=now)
