"""The one send the delivery pipeline calls, against the machine's brokers: each kind of target
gets the event, verifiable by its Standard Webhooks headers (``v1`` with the reference library,
``v1a`` with ``cryptography`` and the published key), only where the client's allow-list
reaches, and with the dedupe id the caller chose."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Mapping

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.delivery.destinations import DestinationSender
from gateway.delivery.ed25519_keys import SigningKey, jwks
from gateway.domain.broker_allowlist import parse_allowlist
from gateway.domain.broker_targets import BrokerCredentials
from gateway.domain.delivery import AttemptResult
from gateway.domain.signing import webhook_headers_for
from gateway.testing.tcp_proxy import FaultProxy
from tests.delivery.brokers.support import (
    SECRET,
    NatsStream,
    RabbitPlace,
    RedisStream,
    verify,
)

pytestmark = pytest.mark.brokers
KEY = SigningKey.generate()
BODY = b'{"type": "video.generation.completed", "data": {"id": "job_42"}}'


class NoHttp:
    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        raise AssertionError("no HTTP here")

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def destinations() -> AsyncIterator[DestinationSender]:
    sender = DestinationSender.create(NoHttp())
    try:
        yield sender
    finally:
        await sender.aclose()


def headers(event_id: str) -> dict[str, str]:
    return webhook_headers_for(
        "both",
        secrets=[SECRET],
        signers=[KEY.sign],
        msg_id=event_id,
        timestamp=int(time.time()),
        body=BODY,
    )


def verify_v1a(body: bytes, got: Mapping[str, str]) -> None:
    """A receiver's own check with the published JWK (an implementation apart from ours)."""
    [jwk] = jwks([KEY])["keys"]
    public = Ed25519PublicKey.from_public_bytes(
        base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    )
    content = f"{got['webhook-id']}.{got['webhook-timestamp']}.".encode() + body
    [v1a] = [s for s in got["webhook-signature"].split(" ") if s.startswith("v1a,")]
    public.verify(base64.b64decode(v1a.removeprefix("v1a,")), content)  # raises if it fails


async def test_rabbitmq_gets_the_event(
    destinations: DestinationSender, rabbit_place: RabbitPlace
) -> None:
    url = rabbit_place.url(5672)
    allowlist = parse_allowlist([f"amqp://127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}"])

    result = await destinations.send(
        url,
        BODY,
        headers("msg_amqp"),
        credentials=BrokerCredentials("guest", "guest"),
        broker_allowlist=allowlist,
        dedupe_id="msg_amqp",
    )

    [got] = await rabbit_place.messages()
    received = {k: str(v) for k, v in got.headers.items()}
    assert (True, BODY, "msg_amqp") == (result.succeeded, got.body, got.message_id)
    verify(got.body, received)
    verify_v1a(got.body, received)


async def test_jetstream_gets_the_event(
    destinations: DestinationSender, nats_stream: NatsStream
) -> None:
    allowlist = parse_allowlist([f"nats://127.0.0.1:4222?subject={nats_stream.prefix}.*"])

    result = await destinations.send(
        nats_stream.url(),
        BODY,
        headers("msg_nats"),
        broker_allowlist=allowlist,
        dedupe_id="msg_nats",
    )

    [(body, received)] = await nats_stream.messages()
    assert (True, BODY) == (result.succeeded, body)
    verify(body, received)
    verify_v1a(body, received)


async def test_a_redis_stream_gets_the_event(
    destinations: DestinationSender, redis_stream: RedisStream
) -> None:
    allowlist = parse_allowlist([f"redis://127.0.0.1:6379/0?stream={redis_stream.key}"])

    result = await destinations.send(
        redis_stream.url(),
        BODY,
        headers("msg_redis"),
        broker_allowlist=allowlist,
        dedupe_id="msg_redis",
    )

    [(body, received)] = await redis_stream.entries()
    assert (True, BODY) == (result.succeeded, body)
    verify(body, received)
    verify_v1a(body, received)


async def test_another_name_on_an_allowed_broker_is_refused_before_connecting(
    destinations: DestinationSender,
    rabbit_place: RabbitPlace,
    rabbit_proxy: FaultProxy,
    nats_stream: NatsStream,
    nats_proxy: FaultProxy,
    redis_stream: RedisStream,
    redis_proxy: FaultProxy,
) -> None:
    """The allow-list names another client's exchange, subject and stream on the same brokers:
    each send is refused and not one connection reaches a broker."""
    allowlist = parse_allowlist(
        [
            f"amqp://127.0.0.1:{rabbit_proxy.port}/%2F?exchange=other-client-*",
            f"nats://127.0.0.1:{nats_proxy.port}?subject=other.client.*",
            f"redis://127.0.0.1:{redis_proxy.port}/0?stream=other-client",
        ]
    )
    urls = [
        rabbit_place.url(rabbit_proxy.port),
        nats_stream.url(nats_proxy.port),
        redis_stream.url(redis_proxy.port),
    ]

    results = [
        await destinations.send(url, BODY, headers("m"), broker_allowlist=allowlist, dedupe_id="m")
        for url in urls
    ]

    assert ["blocked_address"] * 3 == [r.error for r in results]
    assert [0, 0, 0] == [p.connections_made for p in (rabbit_proxy, nats_proxy, redis_proxy)]
    assert [] == await rabbit_place.messages()


async def test_a_replay_with_a_fresh_dedupe_id_arrives_beside_the_first_delivery(
    destinations: DestinationSender, nats_stream: NatsStream
) -> None:
    """The same event (same webhook-id) sent again as a replay, with a fresh dedupe id: JetStream
    stores it again, where a retry with the first id would have been dropped."""
    allowlist = parse_allowlist([f"nats://127.0.0.1:4222?subject={nats_stream.prefix}.*"])
    url, sent = nats_stream.url(), headers("msg_replayed")

    async def send(dedupe_id: str) -> AttemptResult:
        return await destinations.send(
            url, BODY, sent, broker_allowlist=allowlist, dedupe_id=dedupe_id
        )

    results = [await send("msg_replayed"), await send("msg_replayed"), await send("replay_1")]

    assert [True] * 3 == [r.succeeded for r in results]
    assert ["msg_replayed", "replay_1"] == [
        h["Nats-Msg-Id"] for _, h in await nats_stream.messages()
    ]
