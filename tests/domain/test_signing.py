"""Standard Webhooks signing: the published test vector, rotation, and an independent verifier."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from gateway.domain.signing import (
    InvalidSecret,
    InvalidSignature,
    format_secret,
    sign,
    verify,
    webhook_headers,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_published_test_vector() -> None:
    """The reference library's vector signs to the published signature."""
    assert EXPECTED == sign(SECRET, MSG_ID, TIMESTAMP, BODY)


def test_tampered_signature_fails() -> None:
    """The same signature with its last character changed to `A` does not verify."""
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": EXPECTED[:-1] + "A",
    }
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY, now=TIMESTAMP)


def test_our_headers_verify_with_the_independent_library() -> None:
    """What the gateway sends verifies with `standardwebhooks` (real clock, ±5 minutes)."""
    body = b'{"type":"video.generation.completed","data":{"id":"job_1"}}'
    headers = webhook_headers([SECRET], "msg_1", int(time.time()), body)
    assert {"type": "video.generation.completed", "data": {"id": "job_1"}} == Webhook(
        SECRET
    ).verify(body, headers)


def test_rotation_sends_both_signatures_new_first() -> None:
    """During a rotation each receiver, old secret or new, finds a signature it can verify."""
    new = format_secret(bytes(range(32)))
    body = b"{}"
    now = int(time.time())
    headers = webhook_headers([new, SECRET], "msg_2", now, body)
    first, second = headers["webhook-signature"].split(" ")
    assert (sign(new, "msg_2", now, body), sign(SECRET, "msg_2", now, body)) == (first, second)
    Webhook(new).verify(body, headers)
    Webhook(SECRET).verify(body, headers)
    verify(SECRET, headers, body, now=now)


def test_timestamps_outside_five_minutes_are_refused() -> None:
    """Our verifier (the dev inbox) allows ±300 s of skew, like every reference library."""
    headers = webhook_headers([SECRET], MSG_ID, TIMESTAMP, BODY)
    verify(SECRET, headers, BODY, now=TIMESTAMP + 299)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY, now=TIMESTAMP + 301)


@pytest.mark.parametrize(
    "secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***", "whsec_" + "QUFB" * 2]
)
def test_bad_secrets_are_refused(secret: str) -> None:
    """No prefix, not base64, or too few bytes: refused with a clear error."""
    with pytest.raises(InvalidSecret):
        sign(secret, MSG_ID, TIMESTAMP, BODY)


def test_format_secret_round_trips_and_bounds_length() -> None:
    """A formatted secret signs; fewer than 24 bytes is refused."""
    assert sign(format_secret(b"k" * 24), "m", 1, b"").startswith("v1,")
    with pytest.raises(InvalidSecret):
        format_secret(b"k" * 23)
