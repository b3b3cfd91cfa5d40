"""Publishing to RabbitMQ (AMQP 0-9-1) with ``aio-pika``: persistent messages, publisher confirms,
``mandatory`` set.

**What a confirm means.** The broker acks a persistent message once every queue it was routed to
has it (for a durable queue: written to disk; a quorum queue: on a majority of nodes). A message
no queue takes comes back (``basic.return``, because ``mandatory`` is set) and is a failed
attempt, ``unroutable``, never a silent confirm. A nack (a queue at its length limit refusing
publishes) is ``broker_refused``. The message carries the body as is; every header
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``, ``content-type``) as an AMQP header
of the same name, so a consumer verifies it as an HTTP receiver would; the ``content_type``
property; and the dedupe id as the ``message_id`` property (RabbitMQ does not deduplicate on it;
a consumer may).

**Connections.** One per broker, virtual host and credentials, with one channel in confirm mode
for all publishes (confirms of concurrent publishes come back in any order; aio-pika matches
them) and one channel for checking that an exchange exists (a passive declare, remembered per
connection), so a missing exchange closes that channel and not the one the other publishes use.
Without credentials, aio-pika's defaults (``guest``/``guest``) are sent. ``amqps``: TLS to the
checked address, verified against the target's host name (``server_hostname``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, ConnectionParameter
from pamqp.commands import Basic

from gateway.delivery.brokers.base import BrokerPublisher
from gateway.delivery.brokers.common import BrokerMessage, PublishFailed
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, BrokerTarget

CONNECTION_NAME = "video-webhook-gateway"


class NamedTlsConnection(aio_pika.Connection):
    """aio-pika's connection taking ``server_hostname`` on to the TLS handshake (asyncio's
    ``open_connection``, through aiormq), the way ``RobustConnection`` adds its own parameters:
    the socket goes to the checked address, TLS sends and verifies the target's name."""

    PARAMETERS = (
        *aio_pika.Connection.PARAMETERS,
        ConnectionParameter(name="server_hostname", parser=str, is_kwarg=True),
    )


@dataclass(eq=False)
class AmqpConnection:
    """A connection, its confirm channel, its checking channel and the exchanges known."""

    connection: AbstractConnection
    vhost: str
    channel: AbstractChannel | None = None
    probe: AbstractChannel | None = None
    exchanges: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # (re)opening the confirm channel
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def publish_channel(self) -> AbstractChannel:
        channel = self.channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self.lock:
            if self.channel is None or self.channel.is_closed:
                self.channel = await self.connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            return self.channel

    async def check_exchange(self, name: str) -> None:
        if name in self.exchanges:
            return
        async with self.probe_lock:
            if self.probe is None or self.probe.is_closed:
                self.probe = await self.connection.channel(publisher_confirms=False)
            try:
                await self.probe.declare_exchange(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                raise PublishFailed(
                    "no_exchange", f"no exchange {name!r} in virtual host {self.vhost!r}"
                ) from None
            self.exchanges.add(name)


class RabbitMqPublisher(BrokerPublisher[AmqpConnection]):
    """Publishes to ``amqp://`` and ``amqps://`` targets."""

    broker_name = "RabbitMQ"

    async def _connect(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, ip: IPAddress
    ) -> AmqpConnection:
        options: dict[str, Any] = {}
        if credentials is not None:
            options["login"] = credentials.username or ""
            options["password"] = credentials.password or ""
        if target.tls:
            options["ssl"] = True
            options["ssl_context"] = self.ssl_context()
            if not _is_ip(target.host):
                options["connection_class"] = NamedTlsConnection
                options["server_hostname"] = target.host  # TLS checks the name, not the address
        connection = await aio_pika.connect(
            host=str(ip),
            port=target.port,
            virtualhost=target.vhost,
            timeout=self.options.connect_timeout_s,
            client_properties={"connection_name": CONNECTION_NAME},
            **options,
        )
        amqp = AmqpConnection(connection, target.vhost)
        try:
            await amqp.publish_channel()
        except BaseException:
            await self._close(amqp)
            raise
        return amqp

    def _alive(self, connection: AmqpConnection) -> bool:
        return not connection.connection.is_closed

    async def _close(self, connection: AmqpConnection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.connection.close(), 2.0)

    async def _send(
        self, connection: AmqpConnection, target: BrokerTarget, message: BrokerMessage
    ) -> str:
        channel = await connection.publish_channel()
        await connection.check_exchange(target.name)
        exchange = await channel.get_exchange(target.name, ensure=False)
        amqp_message = aio_pika.Message(
            message.body,
            headers=dict(message.headers),
            content_type=message.headers.get("content-type", "application/json"),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.dedupe_id,
        )
        try:
            confirm = await exchange.publish(amqp_message, target.routing_key, mandatory=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            connection.exchanges.discard(target.name)  # deleted since it was checked
            raise
        if not isinstance(confirm, Basic.Ack):
            raise PublishFailed("broker_refused", f"no ack from the broker ({confirm!r})")
        return (
            f"confirmed by RabbitMQ: exchange {target.name!r}, routing key {target.routing_key!r}"
        )

    def _connect_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if isinstance(
            exc,
            aiormq.exceptions.AuthenticationError | aiormq.exceptions.ProbableAuthenticationError,
        ):
            return PublishFailed(
                "broker_auth_failed", "RabbitMQ refused the credentials", connect_failed=True
            )
        if isinstance(
            exc, aiormq.exceptions.ConnectionNotAllowed | aiormq.exceptions.ProtocolSyntaxError
        ):
            return PublishFailed(
                "broker_refused",
                f"RabbitMQ refused to open virtual host {target.vhost!r} (missing, or not "
                "allowed for this user?)",
                connect_failed=True,
            )
        if isinstance(exc, OSError | aiormq.exceptions.AMQPError):  # refused, reset, closed
            return PublishFailed(
                "broker_unreachable",
                f"no connection to RabbitMQ ({_describe(exc)})",
                connect_failed=True,
            )
        return PublishFailed(
            "broker_error", f"{type(exc).__name__} while connecting", connect_failed=True
        )

    def _publish_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if isinstance(exc, aiormq.exceptions.PublishError):  # basic.return: no queue took it
            frame = exc.message.delivery if exc.message is not None else None
            reply = (
                f"{frame.reply_code} {frame.reply_text}" if isinstance(frame, Basic.Return) else ""
            )
            return PublishFailed(
                "unroutable",
                f"no queue is bound for routing key {target.routing_key!r} on exchange "
                f"{target.name!r} ({reply})",
            )
        if isinstance(exc, aiormq.exceptions.DeliveryError):  # basic.nack or reject
            return PublishFailed(
                "broker_refused", "RabbitMQ nacked it (a queue at its length limit refusing it?)"
            )
        if isinstance(exc, aiormq.exceptions.ChannelNotFoundEntity):
            return PublishFailed(
                "no_exchange", f"no exchange {target.name!r} in virtual host {target.vhost!r}"
            )
        if isinstance(exc, aiormq.exceptions.ChannelPreconditionFailed):
            if "size" in str(exc).lower():
                return PublishFailed("message_too_large", "over RabbitMQ's max_message_size")
            return PublishFailed("broker_refused", _describe(exc))
        if isinstance(exc, aiormq.exceptions.ChannelAccessRefused):
            return PublishFailed(
                "broker_auth_failed", f"this user may not publish to exchange {target.name!r}"
            )
        if isinstance(exc, aiormq.exceptions.ChannelClosed):
            return PublishFailed("broker_refused", _describe(exc))
        if isinstance(
            exc,
            OSError
            | aiormq.exceptions.AMQPConnectionError
            | aiormq.exceptions.ChannelInvalidStateError,
        ):
            return PublishFailed(
                "connection_lost", f"the connection broke before the confirm ({_describe(exc)})"
            )
        return PublishFailed("broker_error", f"{type(exc).__name__} while publishing")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
