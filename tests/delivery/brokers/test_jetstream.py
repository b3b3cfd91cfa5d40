"""Publishing to the machine's NATS JetStream, directly and through the fault proxy: acked
publishes into an operator's stream, deduplicated retries, fresh ids that arrive, and clear
failures for a subject without a stream and a message too large."""

from __future__ import annotations

import asyncio
import secrets
import socket

import pytest

from gateway.delivery.brokers.common import BrokerMessage, BrokerOptions
from gateway.delivery.brokers.jetstream import JetStreamPublisher
from gateway.domain.broker_targets import parse_target
from gateway.testing.tcp_proxy import FaultProxy
from tests.delivery.brokers.support import NatsStream, signed_message, verify

pytestmark = pytest.mark.brokers


def publisher(**options: float) -> JetStreamPublisher:
    return JetStreamPublisher(BrokerOptions(**options))  # type: ignore[arg-type]


def again(message: BrokerMessage, *, dedupe_id: str) -> BrokerMessage:
    return BrokerMessage(message.body, message.headers, dedupe_id)


async def test_a_published_event_is_acked_and_verifies(nats_stream: NatsStream) -> None:
    js = publisher()
    message = signed_message()
    try:
        result = await js.publish(parse_target(nats_stream.url()).target, None, message)
    finally:
        await js.aclose()

    [(body, headers)] = await nats_stream.messages()
    assert (True, None) == (result.succeeded, result.error)
    assert f"stored in stream '{nats_stream.name}' as #1" == result.response_excerpt
    assert message.body == body
    verify(body, headers)
    assert message.dedupe_id == headers["Nats-Msg-Id"]


async def test_a_retry_with_the_same_id_is_deduplicated_and_a_fresh_id_arrives(
    nats_stream: NatsStream,
) -> None:
    """Retries of one event reuse its id: stored once, and each acked. An explicit
    redelivery uses a fresh id: stored again."""
    js = publisher()
    target = parse_target(nats_stream.url()).target
    message = signed_message()
    try:
        first = await js.publish(target, None, message)
        retry = await js.publish(target, None, message)
        redelivery = await js.publish(target, None, again(message, dedupe_id="redelivery_1"))
    finally:
        await js.aclose()

    assert (True, True, True) == (first.succeeded, retry.succeeded, redelivery.succeeded)
    assert "duplicate" in retry.response_excerpt
    assert [message.dedupe_id, "redelivery_1"] == [
        h["Nats-Msg-Id"] for _, h in await nats_stream.messages()
    ]


async def test_a_subject_no_stream_captures_is_a_failed_attempt(nats_stream: NatsStream) -> None:
    js = publisher()
    target = parse_target(f"nats://127.0.0.1:4222?subject=gwtest.nostream.{secrets.token_hex(4)}")
    try:
        result = await js.publish(target.target, None, signed_message())
    finally:
        await js.aclose()

    assert (False, "no_stream") == (result.succeeded, result.error)
    assert [] == await nats_stream.messages()


async def test_over_the_stream_s_max_message_size_is_a_clear_failure(
    nats_stream: NatsStream,
) -> None:
    js = publisher()
    try:
        result = await js.publish(
            parse_target(nats_stream.url()).target, None, signed_message(size=25_000)
        )
    finally:
        await js.aclose()

    assert ("message_too_large", "over the stream's max_msg_size") == (
        result.error,
        result.response_excerpt,
    )


async def test_over_the_server_s_max_payload_fails_before_sending(
    nats_stream: NatsStream, nats_proxy: FaultProxy
) -> None:
    js = publisher(max_message_bytes=4_000_000)  # our own cap out of the way
    try:
        result = await js.publish(
            parse_target(nats_stream.url(nats_proxy.port)).target,
            None,
            signed_message(size=1_048_576),
        )
    finally:
        await js.aclose()

    assert "message_too_large" == result.error
    assert "the server's max_payload is" in result.response_excerpt
    assert nats_proxy.bytes_forwarded["upstream"] < 10_000  # the handshake, not the message


async def test_an_ack_lost_on_its_way_fails_and_the_retry_is_stored_once(
    nats_stream: NatsStream, nats_proxy: FaultProxy
) -> None:
    """The stream stores the message, the ack never comes back: a failed attempt; the retry
    (same id) connects anew, is acked as a duplicate, and the stream holds it once."""
    js = publisher()
    target = parse_target(nats_stream.url(nats_proxy.port)).target
    message = signed_message()
    try:
        await js.publish(target, None, signed_message())  # connected
        nats_proxy.cut_after(0, "downstream")
        lost = await js.publish(target, None, message)
        retried = await js.publish(target, None, message)
    finally:
        await js.aclose()

    assert (False, "connection_lost", True) == (lost.succeeded, lost.error, retried.succeeded)
    assert "duplicate" in retried.response_excerpt
    assert 1 == [h["Nats-Msg-Id"] for _, h in await nats_stream.messages()].count(message.dedupe_id)


async def test_a_connection_cut_mid_message_fails_and_the_retry_arrives_once(
    nats_stream: NatsStream, nats_proxy: FaultProxy
) -> None:
    js = publisher()
    target = parse_target(nats_stream.url(nats_proxy.port)).target
    message = signed_message()
    try:
        await js.publish(target, None, signed_message())
        nats_proxy.cut_after(20, "upstream")
        cut = await js.publish(target, None, message)
        retried = await js.publish(target, None, message)
    finally:
        await js.aclose()

    assert (False, "connection_lost", True) == (cut.succeeded, cut.error, retried.succeeded)
    assert "duplicate" not in retried.response_excerpt
    assert 1 == [h["Nats-Msg-Id"] for _, h in await nats_stream.messages()].count(message.dedupe_id)


async def test_a_server_that_refuses_connections_is_unreachable(nats_proxy: FaultProxy) -> None:
    js = publisher()
    nats_proxy.refuse()
    try:
        result = await js.publish(
            parse_target(f"nats://127.0.0.1:{nats_proxy.port}?subject=x").target,
            None,
            signed_message(),
        )
    finally:
        await js.aclose()

    assert ("broker_unreachable", True) == (result.error, result.connect_failed)


async def test_a_closed_port_fails_fast() -> None:
    """No server at all: a failed attempt at once, not after the connect timeout (nats-py would
    retry a refused connect for ever if let)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    js = publisher(connect_timeout_s=30)
    try:
        result = await asyncio.wait_for(
            js.publish(
                parse_target(f"nats://127.0.0.1:{port}?subject=x").target, None, signed_message()
            ),
            10,
        )
    finally:
        await js.aclose()

    assert ("broker_unreachable", True) == (result.error, result.connect_failed)


async def test_a_server_that_stops_answering_times_out_and_the_next_publish_reconnects(
    nats_stream: NatsStream, nats_proxy: FaultProxy
) -> None:
    js = publisher(publish_timeout_s=0.5)
    target = parse_target(nats_stream.url(nats_proxy.port)).target
    try:
        await js.publish(target, None, signed_message())
        nats_proxy.black_hole()
        silent = await js.publish(target, None, signed_message())
        nats_proxy.pass_through()
        again = await js.publish(target, None, signed_message())
    finally:
        await js.aclose()

    assert ("timeout", True, 2) == (silent.error, again.succeeded, nats_proxy.connections_made)
