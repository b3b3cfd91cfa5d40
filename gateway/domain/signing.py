"""Standard Webhooks signatures: ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

Secrets are shown as ``whsec_`` + base64 of the key bytes. During a rotation, several signatures
(new secret first) are sent space-separated; a receiver accepts any one that verifies.

Asymmetric signatures (``v1a``, ed25519) sign the same content: ``v1a,`` + base64 of the
64-byte signature. The key operations need a cryptography library, so they live in an adapter
(``gateway.delivery.ed25519_keys``); here the header is assembled from *signers*, callables that
turn the signed content into a raw signature. A client signs in one of three modes: ``hmac``,
``ed25519`` or ``both`` (``v1`` signatures first, then ``v1a``, as the specification's example).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, get_args

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
TOLERANCE_S = 300  # every reference library accepts ±5 minutes of clock skew

SigningMode = Literal["hmac", "ed25519", "both"]
SIGNING_MODES: tuple[str, ...] = get_args(SigningMode)
#: Turns the signed content into a raw ed25519 signature (64 bytes).
Signer = Callable[[bytes], bytes]


class InvalidSecret(ValueError):
    """A signing secret that is not ``whsec_`` + base64 of 24 to 64 bytes."""


class InvalidSignature(ValueError):
    """A webhook whose signature, id or timestamp does not verify."""


def secret_key(secret: str) -> bytes:
    """The HMAC key bytes behind a ``whsec_…`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a webhook secret is 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidSecret("a webhook secret holds 24 to 64 bytes")
    return key


def format_secret(key: bytes) -> str:
    """Show key bytes (24 to 64 random bytes, chosen by the caller) as a ``whsec_`` secret."""
    if not 24 <= len(key) <= 64:
        raise InvalidSecret("a webhook secret holds 24 to 64 bytes")
    return SECRET_PREFIX + base64.b64encode(key).decode()


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What is signed, in both schemes: ``{id}.{timestamp}.`` and the exact body bytes."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = signed_content(msg_id, timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def asymmetric_signature(raw: bytes) -> str:
    """A raw ed25519 signature as it is sent: ``v1a,`` + base64."""
    return "v1a," + base64.b64encode(raw).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def webhook_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one delivery attempt (the timestamp is the attempt's own)."""
    if not secrets:
        raise InvalidSecret("at least one signing secret is needed")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def signature_header_for(
    mode: SigningMode,
    *,
    secrets: Sequence[str],
    signers: Sequence[Signer],
    msg_id: str,
    timestamp: int,
    body: bytes,
) -> str:
    """The ``webhook-signature`` value of a client signing in ``mode``: one ``v1`` per HMAC
    secret and one ``v1a`` per ed25519 signer (each list new key first: during a rotation both
    keys sign)."""
    if mode not in SIGNING_MODES:
        raise InvalidSecret(f"unknown signing mode {mode!r}")
    parts: list[str] = []
    if mode in {"hmac", "both"}:
        if not secrets:
            raise InvalidSecret("at least one signing secret is needed")
        parts.extend(sign(secret, msg_id, timestamp, body) for secret in secrets)
    if mode in {"ed25519", "both"}:
        if not signers:
            raise InvalidSecret("at least one ed25519 signing key is needed")
        content = signed_content(msg_id, timestamp, body)
        parts.extend(asymmetric_signature(signer(content)) for signer in signers)
    return " ".join(parts)


def webhook_headers_for(
    mode: SigningMode,
    *,
    secrets: Sequence[str],
    signers: Sequence[Signer],
    msg_id: str,
    timestamp: int,
    body: bytes,
) -> dict[str, str]:
    """:func:`webhook_headers` for a client signing in ``mode`` (``hmac`` gives the same)."""
    signature = signature_header_for(
        mode, secrets=secrets, signers=signers, msg_id=msg_id, timestamp=timestamp, body=body
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Raise :class:`InvalidSignature` unless one of the signatures verifies with ``secret``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not msg_id or not raw_timestamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a whole number of seconds") from None
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature("webhook-timestamp is too far from now")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signatures.split(" "):
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise InvalidSignature("no signature matches")
