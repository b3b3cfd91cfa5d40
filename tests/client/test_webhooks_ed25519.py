"""The client's ``[ed25519]`` extra: ``v1a`` webhooks as the gateway signs them verify against
its published keys (``whpk_``, a JWK, the JWK set), through a rotation; tampering, stale
timestamps and other keys do not; without ``cryptography`` the error says what to install."""

from __future__ import annotations

import json
import sys
import time

import pytest

from gateway.delivery.ed25519_keys import SigningKey, jwks
from gateway.domain.signing import webhook_headers_for
from gateway_client import InvalidWebhook, MissingDependency, WebhookVerifier, verify_webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = json.dumps(
    {
        "type": "video.generation.completed",
        "timestamp": "2026-12-01T10:00:00Z",
        "data": {"id": "job_1", "status": "completed", "model": "alibaba/happyhorse-1-0"},
    }
).encode()


def sent(*keys: SigningKey, mode: str = "ed25519", at: float | None = None) -> dict[str, str]:
    """The headers the gateway sends for a client signing in ``mode`` with ``keys``."""
    return webhook_headers_for(
        mode,  # type: ignore[arg-type]
        secrets=[SECRET],
        signers=[key.sign for key in keys],
        msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        timestamp=int(time.time() if at is None else at),
        body=BODY,
    )


def test_a_v1a_webhook_verifies_with_each_published_form_of_the_key() -> None:
    key = SigningKey.generate()
    headers = sent(key)
    published = jwks([key])

    events = [
        verify_webhook(form, BODY, headers)
        for form in (key.public_key(), published["keys"][0], published, [key.public_key()])
    ]

    assert {("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "job_1")} == {(e.id, e.job.id) for e in events}


def test_both_mode_verifies_with_the_secret_and_with_the_public_key() -> None:
    key = SigningKey.generate()
    headers = sent(key, mode="both")

    by_secret = verify_webhook(SECRET, BODY, headers)
    by_key = verify_webhook(key.public_key(), BODY, headers)

    assert by_secret.id == by_key.id


def test_through_a_rotation_either_key_verifies() -> None:
    """During the overlap both keys sign: a receiver with the old key only, with the new key
    only, or with the whole set verifies; after it, the old key alone no longer does."""
    old, new = SigningKey.generate(), SigningKey.generate()
    during, after = sent(new, old), sent(new)

    for receiver in (old.public_key(), new.public_key(), jwks([new, old])):
        assert "job_1" == WebhookVerifier(receiver).verify(BODY, during).job.id
    assert "job_1" == WebhookVerifier(jwks([new, old])).verify(BODY, after).job.id
    with pytest.raises(InvalidWebhook, match="no v1a signature matches"):
        WebhookVerifier(old.public_key()).verify(BODY, after)


@pytest.mark.parametrize(
    ("body", "change", "message"),
    [
        (BODY + b" ", {}, "no v1a signature matches"),
        (BODY, {"webhook-id": "msg_other"}, "no v1a signature matches"),
        (BODY, {"webhook-signature": "v1a,not-base64!"}, "no v1a signature matches"),
        (BODY, {"webhook-timestamp": "12"}, "too far from now"),
        (BODY, {"webhook-timestamp": "soon"}, "whole number"),
        (BODY, {"webhook-signature": ""}, "missing"),
    ],
)
def test_what_does_not_verify(body: bytes, change: dict[str, str], message: str) -> None:
    key = SigningKey.generate()
    headers = {**sent(key), **change}

    with pytest.raises(InvalidWebhook, match=message):
        verify_webhook(key.public_key(), body, headers)


def test_a_stale_signature_is_refused_even_when_it_matches() -> None:
    key = SigningKey.generate()

    with pytest.raises(InvalidWebhook, match="too far from now"):
        verify_webhook(key.public_key(), BODY, sent(key, at=time.time() - 301))


def test_hmac_only_webhooks_and_other_keys_do_not_verify_with_a_public_key() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()

    with pytest.raises(InvalidWebhook):
        verify_webhook(key.public_key(), BODY, sent(mode="hmac"))
    with pytest.raises(InvalidWebhook):
        verify_webhook(other.public_key(), BODY, sent(key))


@pytest.mark.parametrize(
    "key",
    [
        "whpk_not base64",
        "whpk_AAAA",
        {"kty": "RSA", "n": "x"},
        {"keys": []},
        [],
    ],
)
def test_malformed_public_keys_are_refused(key: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each says its own why)
        WebhookVerifier(key)  # type: ignore[arg-type]


def test_without_the_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cryptography`` unimportable (as without the extra); HMAC still works."""
    key = SigningKey.generate()
    headers = sent(key, mode="both")
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.ed25519", None)

    with pytest.raises(MissingDependency, match=r"video-webhook-gateway-client\[ed25519\]"):
        WebhookVerifier(key.public_key())
    assert "job_1" == verify_webhook(SECRET, BODY, headers).job.id
    assert issubclass(MissingDependency, ImportError)
