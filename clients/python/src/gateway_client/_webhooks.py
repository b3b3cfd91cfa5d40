"""Verifying the gateway's webhooks: ``v1`` (HMAC, a ``whsec_`` secret) with the reference
``standardwebhooks`` library, ``v1a`` (ed25519, the gateway's public keys) with ``cryptography``
through the ``[ed25519]`` extra, since ``standardwebhooks`` verifies ``v1`` only."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from gateway_client._errors import InvalidWebhook, MissingDependency
from gateway_client._models import Job, WebhookEvent, parse_time

PUBLIC_KEY_PREFIX = "whpk_"
TOLERANCE_S = 300  # ±5 minutes, as every Standard Webhooks library
EXTRA_HINT = "pip install 'video-webhook-gateway-client[ed25519]'"

#: A ``whsec_`` secret (``v1``); or for ``v1a``: a ``whpk_`` public key, an Ed25519 JWK, a JWK
#: set (``{"keys": [...]}``, as ``GET /v1/signing-keys/{client_id}`` serves it), or a list of
#: those (any one key verifying is enough: during a rotation both keys sign).
VerificationKey = str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]]


class WebhookVerifier:
    """Checks a webhook's signature and timestamp (±5 minutes) with your signing secret, or,
    for ``v1a`` signatures, the gateway's public key(s).

    During a rotation the gateway signs with the new and the old key; either one verifies.
    Deduplicate on ``event.id``: delivery is at least once.
    """

    def __init__(self, key: VerificationKey) -> None:
        self._check: Callable[[bytes, Mapping[str, str]], None]
        if isinstance(key, str) and not key.startswith(PUBLIC_KEY_PREFIX):
            try:
                webhook = Webhook(key)
            except Exception as exc:  # the library raises several kinds for a malformed secret
                raise ValueError("not a webhook signing secret (whsec_…)") from exc

            def check_v1(body: bytes, headers: Mapping[str, str]) -> None:
                webhook.verify(body, dict(headers), json_parse=False)

            self._check = check_v1
        else:
            self._check = _Ed25519Check(_public_keys(key))

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
        """The event, if the body and headers are the gateway's; ``InvalidWebhook`` otherwise."""
        raw = body.encode() if isinstance(body, str) else body
        try:
            self._check(raw, headers)
        except WebhookVerificationError as exc:
            raise InvalidWebhook(str(exc)) from None
        except (ValueError, TypeError, UnicodeDecodeError) as exc:  # malformed headers or body
            if isinstance(exc, InvalidWebhook):
                raise
            raise InvalidWebhook(f"malformed webhook: {type(exc).__name__}") from None
        try:
            event = json.loads(raw)
        except ValueError:
            raise InvalidWebhook("the body is not JSON") from None
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict) or "id" not in data:
            raise InvalidWebhook("the body is not a gateway event")
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        return WebhookEvent(
            id=webhook_id,
            type=str(event.get("type", "")),
            timestamp=parse_time(event.get("timestamp")),
            job=Job.from_json(data),
            raw=event,
        )


def verify_webhook(
    key: VerificationKey, body: bytes | str, headers: Mapping[str, str]
) -> WebhookEvent:
    """Verify one webhook: ``verify_webhook(secret_or_public_keys, body, headers)``."""
    return WebhookVerifier(key).verify(body, headers)


class _Ed25519Check:
    """``v1a``: one of the signatures must verify with one of the keys (``cryptography``)."""

    def __init__(self, raw_keys: list[bytes]) -> None:
        try:  # imported here: the extra is optional
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            raise MissingDependency(
                f"verifying v1a (ed25519) signatures needs the ed25519 extra: {EXTRA_HINT}"
            ) from None
        self._invalid = InvalidSignature
        self._keys = [Ed25519PublicKey.from_public_bytes(raw) for raw in raw_keys]

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("webhook-id", "")
        raw_timestamp = lowered.get("webhook-timestamp", "")
        signatures = lowered.get("webhook-signature", "")
        if not msg_id or not raw_timestamp or not signatures:
            raise InvalidWebhook("missing webhook-id, webhook-timestamp or webhook-signature")
        try:
            timestamp = int(raw_timestamp)
        except ValueError:
            raise InvalidWebhook("webhook-timestamp is not a whole number of seconds") from None
        if abs(time.time() - timestamp) > TOLERANCE_S:
            raise InvalidWebhook("webhook-timestamp is too far from now")
        content = f"{msg_id}.{timestamp}.".encode() + body
        for part in signatures.split(" "):
            version, _, encoded = part.partition(",")
            if version != "v1a":
                continue
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            for key in self._keys:
                try:
                    key.verify(signature, content)
                except self._invalid:
                    continue
                return
        raise InvalidWebhook("no v1a signature matches the given public key(s)")


def _public_keys(key: VerificationKey) -> list[bytes]:
    """The raw 32-byte keys in ``key`` (see ``VerificationKey``)."""
    if isinstance(key, str):
        return [_from_whpk(key)]
    if isinstance(key, Mapping):
        if "keys" in key:
            keys = key["keys"]
            if not isinstance(keys, list) or not keys:
                raise ValueError('a JWK set has a non-empty list "keys"')
            return [_from_jwk(jwk) for jwk in keys]
        return [_from_jwk(key)]
    found = [raw for item in key for raw in _public_keys(item)]
    if not found:
        raise ValueError("no public key given")
    return found


def _from_whpk(text: str) -> bytes:
    if not text.startswith(PUBLIC_KEY_PREFIX):
        raise ValueError("not a webhook public key (whpk_…)")
    try:
        raw = base64.b64decode(text.removeprefix(PUBLIC_KEY_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a whpk_ public key is 'whpk_' followed by base64") from None
    if len(raw) != 32:
        raise ValueError("a whpk_ public key holds 32 bytes")
    return raw


def _from_jwk(jwk: object) -> bytes:
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError('not an Ed25519 JWK ({"kty": "OKP", "crv": "Ed25519", "x": …})')
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError('an Ed25519 JWK has its key in "x"')
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError):
        raise ValueError('the JWK\'s "x" is not base64url') from None
    if len(raw) != 32:
        raise ValueError('the JWK\'s "x" holds 32 bytes')
    return raw
