"""What a delivery needs beyond its URL: the client's signatures (``hmac``, ``ed25519`` or
``both``) and, for a broker target, the stored credentials, the client's allow-list and the
dedupe id (issue 28).

**The dedupe id.** Every retry within one round of the retry schedule reuses the event's
``webhook-id``: JetStream then drops a second copy published after an ack was lost. A
redelivery or a replay starts a new round and uses a fresh id (``<webhook-id>.<n>``, n the
attempts made before the round), so it arrives even within the stream's duplicate window; the
message's ``webhook-id`` header stays the event's, which is what consumers deduplicate on.
"""

from __future__ import annotations

import functools

import msgspec

from gateway.delivery.credential_vault import UnreadableCredentials
from gateway.delivery.ed25519_keys import SigningKey
from gateway.domain.broker_allowlist import BrokerAllowlist, parse_allowlist
from gateway.domain.broker_targets import BrokerCredentials, BrokerTargetRejected, is_broker_url
from gateway.domain.delivery import AttemptResult
from gateway.domain.signing import SIGNING_MODES, SigningMode, webhook_headers_for
from gateway.service.runtime import Runtime
from gateway.store.records import ClientRecord, DeliveryRecord


class BrokerRoute(msgspec.Struct, frozen=True):
    credentials: BrokerCredentials | None
    allowlist: BrokerAllowlist
    dedupe_id: str


@functools.lru_cache(maxsize=256)  # a client's key signs every one of its deliveries
def signing_key(secret: str) -> SigningKey:
    return SigningKey.from_secret(secret)


@functools.lru_cache(maxsize=1024)
def client_allowlist(entries: tuple[str, ...]) -> BrokerAllowlist:
    """A stored allow-list (checked when it was set); unreadable, it allows nothing."""
    try:
        return parse_allowlist(entries)
    except BrokerTargetRejected:
        return BrokerAllowlist()


def signing_mode(client: ClientRecord, now: float) -> SigningMode:
    """The client's mode; ``hmac`` if ed25519 is asked for but no key exists yet."""
    mode = client.signing_mode
    if mode not in SIGNING_MODES or (mode != "hmac" and not client.ed25519_secrets(now)):
        return "hmac"
    return mode  # type: ignore[return-value]  # one of SIGNING_MODES, checked above


def signed_headers(client: ClientRecord, msg_id: str, now: float, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed as the client asked: ``v1`` per
    HMAC secret, ``v1a`` per ed25519 key (during a rotation both keys sign)."""
    mode = signing_mode(client, now)
    signers = (
        [signing_key(secret).sign for secret in client.ed25519_secrets(now)]
        if mode != "hmac"
        else []
    )
    return webhook_headers_for(
        mode,
        secrets=client.signing_secrets(now),
        signers=signers,
        msg_id=msg_id,
        timestamp=int(now),
        body=body,
    )


def dedupe_id(delivery: DeliveryRecord) -> str:
    """See the module's text: the event id in the first round, a fresh one per later round."""
    if delivery.attempts_before_round == 0:
        return delivery.id
    return f"{delivery.id}.{delivery.attempts_before_round}"


async def broker_route(
    rt: Runtime, client: ClientRecord, delivery: DeliveryRecord
) -> BrokerRoute | AttemptResult | None:
    """None for an http(s) callback; for a broker target what its publish needs, or the failed
    attempt when its stored credentials cannot be opened."""
    if not is_broker_url(delivery.url):
        return None
    credentials: BrokerCredentials | None = None
    if delivery.subscription_id is not None:
        sealed = await rt.store.broker_credentials.for_subscription(delivery.subscription_id)
        if sealed is not None:
            try:
                if rt.vault is None:
                    raise UnreadableCredentials("GATEWAY_BROKER_CREDENTIALS_KEY is not set")
                credentials = rt.vault.open(sealed.sealed)
            except UnreadableCredentials as exc:
                return AttemptResult(
                    status_code=None,
                    latency_ms=0.0,
                    error="broker_auth_failed",
                    response_excerpt=f"the stored credentials cannot be used: {exc}",
                )
    return BrokerRoute(
        credentials=credentials,
        allowlist=client_allowlist(tuple(client.broker_allowlist)),
        dedupe_id=dedupe_id(delivery),
    )
