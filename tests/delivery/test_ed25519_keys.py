"""ed25519 keys and ``v1a`` signatures, checked by an independent path: ``cryptography``'s own
verification with the public key as a receiver gets it (decoded from the JWK set), and the
reference ``standardwebhooks`` library for the ``v1`` half of ``both``."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

from gateway.delivery.ed25519_keys import (
    InvalidSigningKey,
    SigningKey,
    format_public_key,
    jwk_for,
    jwk_thumbprint,
    jwks,
    public_key_bytes,
    public_key_from_jwk,
)
from gateway.domain.signing import InvalidSecret, webhook_headers, webhook_headers_for

# RFC 8032, section 7.1, test 1 (the same key is RFC 8037's example in appendix A).
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
EMPTY_MESSAGE_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
    "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
HMAC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type": "job.completed", "data": {"id": "job_1"}}'


def rfc_key() -> SigningKey:
    return SigningKey.from_secret("whsk_" + base64.b64encode(SEED + PUBLIC).decode())


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def receiver_verifies(
    jwk_set: Mapping[str, object], headers: Mapping[str, str], body: bytes
) -> set[str]:
    """A receiver's own check: which published keys (by kid) verify one of the v1a signatures."""
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    signatures = [
        base64.b64decode(part.removeprefix("v1a,"))
        for part in headers["webhook-signature"].split(" ")
        if part.startswith("v1a,")
    ]
    keys = jwk_set["keys"]
    assert isinstance(keys, list)
    verified: set[str] = set()
    for jwk in keys:
        public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        for signature in signatures:
            try:
                public.verify(signature, content)
            except InvalidSignature:
                continue
            verified.add(jwk["kid"])
    return verified


def test_the_rfc_8032_key_signs_as_the_rfc_says() -> None:
    key = rfc_key()

    assert (PUBLIC, EMPTY_MESSAGE_SIGNATURE) == (key.public_bytes, key.sign(b""))


def test_the_rfc_8037_jwk_and_its_thumbprint() -> None:
    """RFC 8037 appendix A.2 (the JWK) and A.3 (its RFC 7638 thumbprint)."""
    jwk = rfc_key().jwk()

    assert {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        "use": "sig",
        "alg": "EdDSA",
        "whpk": "whpk_" + base64.b64encode(PUBLIC).decode(),
    } == jwk
    assert jwk["kid"] == jwk_thumbprint(PUBLIC)


def test_the_secret_key_round_trips_and_is_never_in_repr() -> None:
    key = SigningKey.generate()
    secret = key.secret()
    raw = base64.b64decode(secret.removeprefix("whsk_"))

    again = SigningKey.from_secret(secret)

    assert (True, 64, key.public_bytes) == (secret.startswith("whsk_"), len(raw), raw[32:])
    assert (key.public_key(), key.kid) == (again.public_key(), again.kid)
    assert secret.removeprefix("whsk_") not in repr(key)
    assert base64.b64encode(raw[:32]).decode() not in repr(key)
    assert key.public_key() in repr(key)


def test_a_bare_seed_is_read_too() -> None:
    seed_only = SigningKey.from_secret("whsk_" + base64.b64encode(SEED).decode())

    assert PUBLIC == seed_only.public_bytes


def test_public_key_forms_round_trip() -> None:
    text = format_public_key(PUBLIC)

    assert (PUBLIC, PUBLIC, PUBLIC) == (
        public_key_bytes(text),
        public_key_from_jwk(jwk_for(text)),
        public_key_from_jwk(jwk_for(PUBLIC)),
    )


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + base64.b64encode(SEED + PUBLIC).decode(),  # another prefix
        "whsk_not base64!",
        "whsk_" + base64.b64encode(SEED[:31]).decode(),
        "whsk_" + base64.b64encode(SEED + bytes(32)).decode(),  # public half does not match
    ],
)
def test_bad_secret_keys_are_refused(secret: str) -> None:
    with pytest.raises(InvalidSigningKey):
        SigningKey.from_secret(secret)


@pytest.mark.parametrize(
    "public",
    ["whpk_" + base64.b64encode(PUBLIC[:31]).decode(), "whsk_" + base64.b64encode(PUBLIC).decode()],
)
def test_bad_public_keys_are_refused(public: str) -> None:
    with pytest.raises(InvalidSigningKey):
        public_key_bytes(public)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
    ],
)
def test_bad_jwks_are_refused(jwk: dict[str, str]) -> None:
    with pytest.raises(InvalidSigningKey):
        public_key_from_jwk(jwk)


def test_ed25519_mode_sends_one_v1a_signature_that_the_published_key_verifies() -> None:
    key = SigningKey.generate()
    now = int(time.time())

    headers = webhook_headers_for(
        "ed25519", secrets=[], signers=[key.sign], msg_id="msg_1", timestamp=now, body=BODY
    )

    assert headers["webhook-signature"].startswith("v1a,")
    assert " " not in headers["webhook-signature"]
    assert {key.kid} == receiver_verifies(jwks([key]), headers, BODY)
    assert set() == receiver_verifies(jwks([key]), headers, BODY + b" ")  # the exact bytes


def test_both_mode_sends_v1_then_v1a_and_each_verifies_on_its_own() -> None:
    key = SigningKey.generate()
    now = int(time.time())

    headers = webhook_headers_for(
        "both", secrets=[HMAC_SECRET], signers=[key.sign], msg_id="msg_1", timestamp=now, body=BODY
    )

    assert ["v1", "v1a"] == [p.split(",")[0] for p in headers["webhook-signature"].split(" ")]
    Webhook(HMAC_SECRET).verify(BODY, headers)  # the reference library: v1
    assert {key.kid} == receiver_verifies(jwks([key]), headers, BODY)


def test_hmac_mode_is_todays_headers() -> None:
    assert webhook_headers([HMAC_SECRET], "msg_1", 1614265330, BODY) == webhook_headers_for(
        "hmac", secrets=[HMAC_SECRET], signers=[], msg_id="msg_1", timestamp=1614265330, body=BODY
    )


def test_through_a_rotation_both_keys_sign_and_each_receiver_verifies() -> None:
    """Before: the old key alone. During the overlap: both sign, the JWK set lists both (new
    first), and a receiver still holding only the old key's JWK verifies, as does one that has
    fetched the new set. After: the new key alone; the old key's holder no longer verifies."""
    old, new = SigningKey.generate(), SigningKey.generate()
    now = int(time.time())

    def send(*keys: SigningKey) -> dict[str, str]:
        signers = [k.sign for k in keys]
        return webhook_headers_for(
            "ed25519", secrets=[], signers=signers, msg_id="msg_r", timestamp=now, body=BODY
        )

    before, during, after = send(old), send(new, old), send(new)
    published = jwks([new, old])

    assert [new.kid, old.kid] == [k["kid"] for k in published["keys"]]
    assert {old.kid} == receiver_verifies(jwks([old]), before, BODY)
    assert {old.kid} == receiver_verifies(jwks([old]), during, BODY)
    assert {new.kid, old.kid} == receiver_verifies(published, during, BODY)
    assert {new.kid} == receiver_verifies(published, after, BODY)
    assert set() == receiver_verifies(jwks([old]), after, BODY)


def test_a_mode_without_its_keys_is_refused() -> None:
    with pytest.raises(InvalidSecret):
        webhook_headers_for(
            "ed25519", secrets=[HMAC_SECRET], signers=[], msg_id="m", timestamp=1, body=b""
        )
    with pytest.raises(InvalidSecret):
        webhook_headers_for(
            "both",
            secrets=[],
            signers=[SigningKey.generate().sign],
            msg_id="m",
            timestamp=1,
            body=b"",
        )
    with pytest.raises(InvalidSecret):
        webhook_headers_for(
            "rsa", secrets=[HMAC_SECRET], signers=[], msg_id="m", timestamp=1, body=b""
        )  # type: ignore[arg-type]


def test_a_jwk_set_lists_each_key_once() -> None:
    key = SigningKey.generate()

    assert 1 == len(jwks([key, key.public_key(), key.public_bytes])["keys"])
