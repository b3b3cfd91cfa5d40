"""Brokers named by host name, against the machine's RabbitMQ: the name is resolved and checked
by the gateway, the library connects to the checked address, every new connection checks
again (DNS rebinding cannot move a reconnection), and ``amqps`` verifies TLS against the
name while connecting to the address."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.delivery.brokers.common import BrokerOptions
from gateway.delivery.brokers.rabbitmq import RabbitMqPublisher
from gateway.domain.broker_targets import BrokerCredentials, parse_target
from gateway.testing.tcp_proxy import FaultProxy
from tests.brokers import AMQP_URL, address, require_rabbitmq
from tests.delivery.brokers.support import RabbitPlace, signed_message
from tests.delivery.receiver import ScriptedResolver, self_signed

pytestmark = pytest.mark.brokers
GUEST = BrokerCredentials("guest", "guest")


async def test_each_new_connection_resolves_and_checks_the_name_again(
    rabbit_place: RabbitPlace, rabbit_proxy: FaultProxy
) -> None:
    """broker.test is 127.0.0.1, then (rebound) 0.0.0.0: the live connection is not moved,
    and once it breaks, the new address is refused before any connection is made."""
    resolver = ScriptedResolver({"broker.test": [["127.0.0.1"], ["0.0.0.0"]]})  # noqa: S104
    rabbit = RabbitMqPublisher(BrokerOptions(), resolver=resolver)
    url = f"amqp://broker.test:{rabbit_proxy.port}/%2F?exchange={rabbit_place.exchange}"
    target = parse_target(url + "&routing_key=video.done").target
    try:
        first = await rabbit.publish(target, GUEST, signed_message())
        second = await rabbit.publish(target, GUEST, signed_message())  # same connection
        await rabbit_proxy.drop_all()
        dropped = await rabbit.publish(target, GUEST, signed_message())
        rebound = await rabbit.publish(target, GUEST, signed_message())
    finally:
        await rabbit.aclose()

    assert (True, True) == (first.succeeded, second.succeeded)
    assert "connection_lost" == dropped.error
    assert ("blocked_address", "broker address broker.test → 0.0.0.0 is unspecified") == (
        rebound.error,
        rebound.response_excerpt,
    )
    assert (["broker.test", "broker.test"], 1) == (resolver.calls, rabbit_proxy.connections_made)


@contextlib.asynccontextmanager
async def tls_in_front_of_rabbitmq(cert: Path, key: Path) -> AsyncIterator[tuple[int, list[str]]]:
    """A TLS terminator on loopback forwarding to RabbitMQ; yields its port and the server
    names (SNI) clients sent."""
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name or "")  # type: ignore[assignment,func-returns-value]

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*address(AMQP_URL))
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1], names
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
async def test_amqps_verifies_the_name_while_connecting_to_the_checked_address(
    rabbit_place: RabbitPlace, tmp_path: Path
) -> None:
    require_rabbitmq()
    cert, key = self_signed(tmp_path, "broker.test")
    trusting = ssl.create_default_context(cafile=str(cert))
    resolver = ScriptedResolver({"broker.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    rabbit = RabbitMqPublisher(BrokerOptions(), resolver=resolver, ssl_context=trusting)
    async with tls_in_front_of_rabbitmq(cert, key) as (port, names):
        query = f"/%2F?exchange={rabbit_place.exchange}&routing_key=video.done"
        try:
            good = await rabbit.publish(
                parse_target(f"amqps://broker.test:{port}{query}").target, GUEST, signed_message()
            )
            wrong_name = await rabbit.publish(
                parse_target(f"amqps://other.test:{port}{query}").target, GUEST, signed_message()
            )
        finally:
            await rabbit.aclose()

    assert (True, "broker_unreachable") == (good.succeeded, wrong_name.error)
    assert "CERTIFICATE_VERIFY_FAILED" in wrong_name.response_excerpt or (
        "certificate" in wrong_name.response_excerpt.lower()
    )
    assert ["broker.test", "other.test"] == names  # the name went out as SNI, not the address
    assert 1 == len(await rabbit_place.messages())
