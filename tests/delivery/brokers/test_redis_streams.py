"""Publishing to the machine's Redis Streams, directly and through the fault proxy: entries
that verify as webhooks, and no entry called delivered without Redis's reply."""

from __future__ import annotations

import logging

import pytest
from structlog.testing import capture_logs

from gateway.delivery.brokers.common import BrokerOptions
from gateway.delivery.brokers.redis_streams import RedisStreamPublisher
from gateway.domain.broker_targets import BrokerCredentials, parse_target
from gateway.testing.tcp_proxy import FaultProxy
from tests.delivery.brokers.support import PASSWORD, RedisStream, signed_message, verify

pytestmark = pytest.mark.brokers


def publisher(**options: float) -> RedisStreamPublisher:
    return RedisStreamPublisher(BrokerOptions(**options))  # type: ignore[arg-type]


async def test_a_published_event_is_an_entry_that_verifies(redis_stream: RedisStream) -> None:
    streams = publisher()
    message = signed_message()
    try:
        result = await streams.publish(parse_target(redis_stream.url()).target, None, message)
    finally:
        await streams.aclose()

    [(body, headers)] = await redis_stream.entries()
    assert (True, None) == (result.succeeded, result.error)
    assert result.response_excerpt.startswith(f"added to stream '{redis_stream.key}' as entry ")
    assert message.body == body
    verify(body, headers)
    assert {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"} == set(headers)


async def test_a_reply_lost_on_its_way_fails_and_the_retry_arrives(
    redis_stream: RedisStream, redis_proxy: FaultProxy
) -> None:
    """Redis adds the entry, its reply never comes back: a failed attempt; the retry adds it
    again (at least once: a consumer deduplicates on webhook-id)."""
    streams = publisher()
    target = parse_target(redis_stream.url(redis_proxy.port)).target
    message = signed_message()
    try:
        await streams.publish(target, None, signed_message())  # connected
        redis_proxy.cut_after(0, "downstream")
        lost = await streams.publish(target, None, message)
        retried = await streams.publish(target, None, message)
    finally:
        await streams.aclose()

    assert (False, "connection_lost", True) == (lost.succeeded, lost.error, retried.succeeded)
    ids = [headers["webhook-id"] for _, headers in await redis_stream.entries()]
    assert 1 <= ids.count(message.dedupe_id) <= 2


async def test_a_connection_cut_mid_command_fails_and_the_retry_arrives_once(
    redis_stream: RedisStream, redis_proxy: FaultProxy
) -> None:
    streams = publisher()
    target = parse_target(redis_stream.url(redis_proxy.port)).target
    message = signed_message()
    try:
        await streams.publish(target, None, signed_message())
        redis_proxy.cut_after(20, "upstream")
        cut = await streams.publish(target, None, message)
        retried = await streams.publish(target, None, message)
    finally:
        await streams.aclose()

    assert (False, "connection_lost", True) == (cut.succeeded, cut.error, retried.succeeded)
    ids = [headers["webhook-id"] for _, headers in await redis_stream.entries()]
    assert 1 == ids.count(message.dedupe_id)


async def test_a_silent_server_times_out(
    redis_stream: RedisStream, redis_proxy: FaultProxy
) -> None:
    streams = publisher(publish_timeout_s=0.3)
    target = parse_target(redis_stream.url(redis_proxy.port)).target
    try:
        await streams.publish(target, None, signed_message())
        redis_proxy.black_hole()
        silent = await streams.publish(target, None, signed_message())
    finally:
        await streams.aclose()

    assert "timeout" == silent.error


async def test_a_key_that_is_not_a_stream_is_refused(redis_stream: RedisStream) -> None:
    await redis_stream.client.set(redis_stream.key, "a string")
    streams = publisher()
    try:
        result = await streams.publish(
            parse_target(redis_stream.url()).target, None, signed_message()
        )
    finally:
        await streams.aclose()

    assert "broker_refused" == result.error
    assert "WRONGTYPE" in result.response_excerpt


async def test_a_message_over_the_limit_is_a_clear_failure(
    redis_stream: RedisStream, redis_proxy: FaultProxy
) -> None:
    streams = publisher(max_message_bytes=2_000)
    try:
        result = await streams.publish(
            parse_target(redis_stream.url(redis_proxy.port)).target,
            None,
            signed_message(size=3_000),
        )
    finally:
        await streams.aclose()

    assert ("message_too_large", 0) == (result.error, redis_proxy.connections_made)
    assert "the limit is 2000" in result.response_excerpt


async def test_refused_credentials_fail_and_are_never_shown(
    redis_stream: RedisStream, caplog: pytest.LogCaptureFixture
) -> None:
    streams = publisher()
    caplog.set_level(logging.DEBUG)
    try:
        with capture_logs() as logs:
            result = await streams.publish(
                parse_target(redis_stream.url()).target,
                BrokerCredentials("gateway", PASSWORD),
                signed_message(),
            )
    finally:
        await streams.aclose()

    assert ("broker_auth_failed", True) == (result.error, result.connect_failed)
    assert PASSWORD not in repr(result) + repr(logs) + caplog.text
    assert [] == await redis_stream.entries()
