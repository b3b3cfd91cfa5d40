"""ed25519 signing keys for Standard Webhooks' asymmetric signatures (``v1a``), on ``cryptography``.

Formats, as the specification and its authors' server (Svix) use them:

- secret key: ``whsk_`` + base64 of 64 bytes, the 32-byte seed followed by the 32-byte public
  key (libsodium's layout; a bare 32-byte seed is read too);
- public key: ``whpk_`` + base64 of the 32 raw bytes;
- a JWK (RFC 8037): ``{"kty": "OKP", "crv": "Ed25519", "x": <base64url, no padding>, "kid": …}``
  with ``"use": "sig"`` and ``"alg": "EdDSA"``; ``kid`` is the key's RFC 7638 thumbprint, so
  every party computes the same id from the key alone. Each JWK also carries its ``whpk_`` form
  (``"whpk"``, a member JWK readers ignore).

A :class:`SigningKey` signs (:meth:`SigningKey.sign` is a ``gateway.domain.signing.Signer``),
never shows its secret in ``repr``, and gives its public forms. The header assembly
(``hmac``/``ed25519``/``both``) is pure and lives in ``gateway.domain.signing``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

SECRET_KEY_PREFIX = "whsk_"  # noqa: S105 (a prefix, not a secret)
PUBLIC_KEY_PREFIX = "whpk_"
_SEED_BYTES = 32
_PUBLIC_BYTES = 32


class InvalidSigningKey(ValueError):
    """Not an ed25519 key in one of the forms above; the message says which part is wrong."""


class SigningKey:
    """One ed25519 key pair; signs the Standard Webhooks signed content."""

    __slots__ = ("_private", "_public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_secret(cls, secret: str) -> SigningKey:
        """Read a ``whsk_`` secret key (64 bytes: seed and public key; or the 32-byte seed)."""
        raw = _decode(secret, SECRET_KEY_PREFIX, "secret key")
        if len(raw) not in {_SEED_BYTES, _SEED_BYTES + _PUBLIC_BYTES}:
            raise InvalidSigningKey("a whsk_ secret key holds 64 bytes (or a 32-byte seed)")
        key = cls(Ed25519PrivateKey.from_private_bytes(raw[:_SEED_BYTES]))
        if len(raw) > _SEED_BYTES and raw[_SEED_BYTES:] != key.public_bytes:
            raise InvalidSigningKey("the whsk_ secret key's public half does not match its seed")
        return key

    def secret(self) -> str:
        """The ``whsk_`` form: store it encrypted, never show it."""
        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return SECRET_KEY_PREFIX + base64.b64encode(seed + self._public).decode()

    @property
    def public_bytes(self) -> bytes:
        return self._public

    def public_key(self) -> str:
        """The ``whpk_`` form, for receivers."""
        return format_public_key(self._public)

    @property
    def kid(self) -> str:
        return jwk_thumbprint(self._public)

    def sign(self, content: bytes) -> bytes:
        """The raw 64-byte signature of ``content`` (a ``Signer``)."""
        return self._private.sign(content)

    def jwk(self) -> dict[str, str]:
        return jwk_for(self._public)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, public={self.public_key()!r})"


def format_public_key(raw: bytes) -> str:
    if len(raw) != _PUBLIC_BYTES:
        raise InvalidSigningKey("an ed25519 public key holds 32 bytes")
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def public_key_bytes(public_key: str) -> bytes:
    """The 32 raw bytes behind a ``whpk_`` public key."""
    raw = _decode(public_key, PUBLIC_KEY_PREFIX, "public key")
    if len(raw) != _PUBLIC_BYTES:
        raise InvalidSigningKey("a whpk_ public key holds 32 bytes")
    return raw


def jwk_thumbprint(raw: bytes) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, base64url."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def jwk_for(public: bytes | str, *, kid: str | None = None) -> dict[str, str]:
    """The JWK of a public key (raw bytes or ``whpk_``); ``kid`` defaults to its thumbprint."""
    raw = public_key_bytes(public) if isinstance(public, str) else public
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(raw),
        "kid": kid or jwk_thumbprint(raw),
        "use": "sig",
        "alg": "EdDSA",
        "whpk": format_public_key(raw),
    }


def jwks(keys: Iterable[SigningKey | bytes | str]) -> dict[str, list[dict[str, str]]]:
    """A JWK set of the given keys (signing keys, raw public keys or ``whpk_`` forms), in order
    (the current key first during a rotation), each key once."""
    seen: dict[bytes, None] = {}
    for key in keys:
        raw = key.public_bytes if isinstance(key, SigningKey) else key
        seen.setdefault(public_key_bytes(raw) if isinstance(raw, str) else raw, None)
    return {"keys": [jwk_for(raw) for raw in seen]}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> bytes:
    """The raw public key of an Ed25519 JWK (checked: ``kty``, ``crv``, ``x``)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidSigningKey('an Ed25519 JWK has "kty": "OKP" and "crv": "Ed25519"')
    x = jwk.get("x")
    if not isinstance(x, str):
        raise InvalidSigningKey('an Ed25519 JWK has its key in "x"')
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSigningKey('the JWK\'s "x" is not base64url') from None
    if len(raw) != _PUBLIC_BYTES:
        raise InvalidSigningKey('the JWK\'s "x" holds 32 bytes')
    return raw


def _decode(text: str, prefix: str, what: str) -> bytes:
    if not text.startswith(prefix):
        raise InvalidSigningKey(f"an ed25519 {what} starts with {prefix!r}")
    try:
        return base64.b64decode(text.removeprefix(prefix), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSigningKey(f"an ed25519 {what} is {prefix!r} followed by base64") from None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
