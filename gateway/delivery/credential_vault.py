"""Broker credentials encrypted at rest: Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) under the operator's ``GATEWAY_BROKER_CREDENTIALS_KEY``.

What is sealed is the JSON of the username and password; the store keeps only the token (and a
masked form for views). A token that does not open (another key, tampered with) is an
:class:`UnreadableCredentials`, whose message never holds the token or the key.
"""

from __future__ import annotations

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from gateway.domain.broker_targets import BrokerCredentials


class UnreadableCredentials(ValueError):
    """Stored credentials that this key cannot open (the key changed, or they were altered)."""


class _Sealed(msgspec.Struct, frozen=True, omit_defaults=True):
    u: str | None = None
    p: str | None = None


class FernetVault:
    """Seals and opens broker credentials with one Fernet key."""

    __slots__ = ("_fernet",)

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode("ascii"))

    def __repr__(self) -> str:
        return "FernetVault(***)"

    def seal(self, credentials: BrokerCredentials) -> str:
        plain = msgspec.json.encode(_Sealed(u=credentials.username, p=credentials.password))
        return self._fernet.encrypt(plain).decode("ascii")

    def open(self, sealed: str) -> BrokerCredentials:
        try:
            plain = self._fernet.decrypt(sealed.encode("ascii"))
            values = msgspec.json.decode(plain, type=_Sealed)
        except (InvalidToken, UnicodeEncodeError, msgspec.DecodeError):
            raise UnreadableCredentials(
                "stored broker credentials do not open with GATEWAY_BROKER_CREDENTIALS_KEY"
            ) from None
        return BrokerCredentials(username=values.u, password=values.p)


def new_vault_key() -> str:
    """A fresh key (``gateway dev`` keeps one)."""
    return Fernet.generate_key().decode("ascii")
