"""Publishing to the machine's RabbitMQ, directly and through the fault proxy: what arrives
verifies as an HTTP webhook would, and nothing is called delivered without the broker's confirm."""

from __future__ import annotations

import logging

import aio_pika
import pytest
from structlog.testing import capture_logs

from gateway.delivery.brokers.common import BrokerOptions
from gateway.delivery.brokers.rabbitmq import RabbitMqPublisher
from gateway.domain.broker_targets import BrokerCredentials, parse_target
from gateway.testing.tcp_proxy import FaultProxy
from tests.brokers import unique
from tests.delivery.brokers.support import PASSWORD, FakeClock, RabbitPlace, signed_message, verify

pytestmark = pytest.mark.brokers
GUEST = BrokerCredentials("guest", "guest")


def publisher(**options: float) -> RabbitMqPublisher:
    return RabbitMqPublisher(BrokerOptions(**options))  # type: ignore[arg-type]


async def test_a_published_event_arrives_persistent_and_verifies(rabbit_place: RabbitPlace) -> None:
    rabbit = publisher()
    message = signed_message()
    try:
        result = await rabbit.publish(parse_target(rabbit_place.url(5672)).target, GUEST, message)
    finally:
        await rabbit.aclose()

    [got] = await rabbit_place.messages()
    assert (True, None, None) == (result.succeeded, result.status_code, result.error)
    assert "confirmed by RabbitMQ" in result.response_excerpt
    assert message.body == got.body
    verify(got.body, {k: str(v) for k, v in got.headers.items()})
    assert (message.dedupe_id, "application/json", aio_pika.DeliveryMode.PERSISTENT) == (
        got.message_id,
        got.content_type,
        got.delivery_mode,
    )


async def test_an_unroutable_message_is_a_failed_attempt(rabbit_place: RabbitPlace) -> None:
    rabbit = publisher()
    try:
        result = await rabbit.publish(
            parse_target(rabbit_place.url(5672, routing_key="nobody.listens")).target,
            GUEST,
            signed_message(),
        )
    finally:
        await rabbit.aclose()

    assert (False, "unroutable") == (result.succeeded, result.error)
    assert "NO_ROUTE" in result.response_excerpt
    assert [] == await rabbit_place.messages()


async def test_a_missing_exchange_fails_and_the_connection_serves_on(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    rabbit = publisher()
    try:
        missing = await rabbit.publish(
            parse_target(rabbit_place.url(rabbit_proxy.port, exchange=unique("gw-none"))).target,
            GUEST,
            signed_message(),
        )
        fine = await rabbit.publish(
            parse_target(rabbit_place.url(rabbit_proxy.port)).target, GUEST, signed_message()
        )
    finally:
        await rabbit.aclose()

    assert ("no_exchange", True, 1) == (
        missing.error,
        fine.succeeded,
        rabbit_proxy.connections_made,
    )
    assert 1 == len(await rabbit_place.messages())


async def test_a_confirm_lost_on_its_way_is_a_failure_and_the_retry_arrives(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    """The broker stores the message but its confirm never comes back: a failed attempt (never
    "delivered"); the retry connects anew and is confirmed; the consumer has it at least once."""
    rabbit = publisher()
    target = parse_target(rabbit_place.url(rabbit_proxy.port)).target
    message = signed_message()
    try:
        warm = await rabbit.publish(target, GUEST, signed_message())
        rabbit_proxy.cut_after(0, "downstream")
        lost = await rabbit.publish(target, GUEST, message)
        retried = await rabbit.publish(target, GUEST, message)
    finally:
        await rabbit.aclose()

    assert (True, False, "connection_lost", True) == (
        warm.succeeded,
        lost.succeeded,
        lost.error,
        retried.succeeded,
    )
    ids = [m.message_id for m in await rabbit_place.messages()]
    assert 1 <= ids.count(message.dedupe_id) <= 2
    assert 2 == rabbit_proxy.connections_made


async def test_a_connection_cut_mid_message_is_a_failure_and_nothing_half_arrives(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    """The connection breaks 10 bytes into the publish: the broker never has the message; the
    retry delivers it exactly once."""
    rabbit = publisher()
    target = parse_target(rabbit_place.url(rabbit_proxy.port)).target
    message = signed_message()
    try:
        await rabbit.publish(target, GUEST, signed_message())  # connected, channel open
        rabbit_proxy.cut_after(10, "upstream")
        cut = await rabbit.publish(target, GUEST, message)
        retried = await rabbit.publish(target, GUEST, message)
    finally:
        await rabbit.aclose()

    assert (False, "connection_lost", True) == (cut.succeeded, cut.error, retried.succeeded)
    ids = [m.message_id for m in await rabbit_place.messages()]
    assert 1 == ids.count(message.dedupe_id)


async def test_a_broker_that_stops_answering_times_out_and_the_next_publish_reconnects(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    rabbit = publisher(publish_timeout_s=0.5)
    target = parse_target(rabbit_place.url(rabbit_proxy.port)).target
    try:
        await rabbit.publish(target, GUEST, signed_message())
        rabbit_proxy.black_hole()
        silent = await rabbit.publish(target, GUEST, signed_message())
        rabbit_proxy.pass_through()
        again = await rabbit.publish(target, GUEST, signed_message())
    finally:
        await rabbit.aclose()

    assert ("timeout", True) == (silent.error, again.succeeded)
    assert "may or may not be stored" in silent.response_excerpt
    assert 2 == rabbit_proxy.connections_made


async def test_a_refused_connection_backs_off_before_trying_again(rabbit_proxy: FaultProxy) -> None:
    clock = FakeClock()
    rabbit = RabbitMqPublisher(BrokerOptions(backoff_s=2.0), clock=clock)
    target = parse_target(f"amqp://127.0.0.1:{rabbit_proxy.port}?exchange=x").target
    rabbit_proxy.refuse()
    try:
        first = await rabbit.publish(target, GUEST, signed_message())
        during = await rabbit.publish(target, GUEST, signed_message())
        tried_during_backoff = rabbit_proxy.connections_made
        clock.now += 2.1
        after = await rabbit.publish(target, GUEST, signed_message())
    finally:
        await rabbit.aclose()

    assert ("broker_unreachable", True) == (first.error, first.connect_failed)
    assert ("broker_unreachable", True) == (during.error, during.connect_failed)
    assert "next connection attempt in 2.0 s" in during.response_excerpt
    assert (1, 2) == (tried_during_backoff, rabbit_proxy.connections_made)
    assert "broker_unreachable" == after.error


async def test_refused_credentials_fail_and_are_never_shown(
    rabbit_place: RabbitPlace, caplog: pytest.LogCaptureFixture
) -> None:
    rabbit = publisher()
    credentials = BrokerCredentials("guest", PASSWORD)
    caplog.set_level(logging.DEBUG)
    try:
        with capture_logs() as logs:
            result = await rabbit.publish(
                parse_target(rabbit_place.url(5672)).target, credentials, signed_message()
            )
    finally:
        await rabbit.aclose()

    assert ("broker_auth_failed", True) == (result.error, result.connect_failed)
    assert PASSWORD not in repr(result)
    assert PASSWORD not in repr(logs)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(credentials)
    assert any(entry["event"] == "broker_connect_failed" for entry in logs)


async def test_a_missing_virtual_host_is_refused(rabbit_place: RabbitPlace) -> None:
    rabbit = publisher()
    target = parse_target(f"amqp://127.0.0.1:5672/{unique('nohost')}?exchange=x").target
    try:
        result = await rabbit.publish(target, GUEST, signed_message())
    finally:
        await rabbit.aclose()

    assert "broker_refused" == result.error
    assert "virtual host" in result.response_excerpt


async def test_a_message_over_the_limit_fails_without_connecting(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    rabbit = publisher(max_message_bytes=1000)
    try:
        result = await rabbit.publish(
            parse_target(rabbit_place.url(rabbit_proxy.port)).target,
            GUEST,
            signed_message(size=2000),
        )
    finally:
        await rabbit.aclose()

    assert ("message_too_large", 0) == (result.error, rabbit_proxy.connections_made)
