"""Publishing to NATS JetStream with ``nats-py``: an acknowledged publish into a stream the
operator made for the subject (the gateway never creates streams).

**What an ack means.** The stream stored the message (on as many replicas as it is configured
for, on disk or in memory as it is configured). A subject no stream captures has no responder:
a failed attempt, ``no_stream``. A message over the server's ``max_payload`` (body and headers)
or the stream's ``max_msg_size`` is ``message_too_large``.

**Deduplication.** The message's ``Nats-Msg-Id`` header is the dedupe id the caller chose: the
stream drops a second message with the same id within its duplicate window (two minutes by
default) and acks it as a duplicate, which counts as delivered (the first one is stored). So
retries of one event reuse its ``webhook-id`` (a retry after a lost ack is not stored twice),
while an explicit redelivery or replay must use a fresh id, or it would be dropped as a
duplicate of the first delivery within the window. The headers carry ``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` and ``content-type`` as sent over HTTP.

**Connections.** One per server and credentials (``user:password``, or a token as the user
alone), to the checked address, with nats-py's own reconnection off: a connection that drops
fails its publishes (never buffered for later) and the next publish connects anew, with the
pool's backoff. Errors the client reports in the background are logged by type only.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js.api import Header, PubAck
from nats.js.client import JetStreamContext

from gateway.delivery.brokers.base import BrokerPublisher, log
from gateway.delivery.brokers.common import BrokerMessage, PublishFailed, host_for_url
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, BrokerTarget

CONNECTION_NAME = "video-webhook-gateway"
MESSAGE_TOO_LARGE = 10054  # JetStream's API error code: over the stream's max_msg_size
_HEADER_PREAMBLE = len(b"NATS/1.0\r\n") + len(b"\r\n")


def encoded_size(body: bytes, headers: dict[str, str]) -> int:
    """What the server counts against ``max_payload``: the body and the encoded headers."""
    return (
        len(body)
        + _HEADER_PREAMBLE
        + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())
    )


@dataclass(eq=False)
class NatsConnection:
    """A client and its publishes waiting for their acks: when the connection closes they are
    cancelled (nats-py would leave them waiting for their timeout), which the publish skeleton
    reads as a lost connection."""

    client: NatsClient | None = None
    jetstream: JetStreamContext | None = None
    pending: set[asyncio.Task[PubAck]] = field(default_factory=set)

    async def closed(self) -> None:
        for task in list(self.pending):
            task.cancel()


class JetStreamPublisher(BrokerPublisher[NatsConnection]):
    """Publishes to ``nats://`` targets."""

    broker_name = "NATS JetStream"

    async def _connect(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, ip: IPAddress
    ) -> NatsConnection:
        connection = NatsConnection()

        async def report(exc: Exception) -> None:
            log.debug("broker_reported_error", broker=target.broker, error=type(exc).__name__)

        options: dict[str, Any] = {}
        if credentials is not None:
            if credentials.password is None:
                options["token"] = credentials.username
            else:
                options["user"] = credentials.username or ""
                options["password"] = credentials.password
        connection.client = await nats.connect(
            servers=[f"nats://{host_for_url(ip)}:{target.port}"],
            name=CONNECTION_NAME,
            connect_timeout=self.options.connect_timeout_s,
            allow_reconnect=False,
            # nats-py tries a server until it has failed more than this many times (0 would
            # be for ever): 1 makes two attempts at once, then "no servers".
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            error_cb=report,
            disconnected_cb=connection.closed,
            closed_cb=connection.closed,
            **options,
        )
        connection.jetstream = connection.client.jetstream(timeout=self.options.publish_timeout_s)
        return connection

    def _alive(self, connection: NatsConnection) -> bool:
        return connection.client is not None and connection.client.is_connected

    async def _close(self, connection: NatsConnection) -> None:
        if connection.client is not None:
            with contextlib.suppress(Exception):
                await connection.client.close()

    async def _send(
        self, connection: NatsConnection, target: BrokerTarget, message: BrokerMessage
    ) -> str:
        client, js = connection.client, connection.jetstream
        assert client is not None  # a connection is handed out connected
        assert js is not None
        headers = {**message.headers, Header.MSG_ID: message.dedupe_id}
        size = encoded_size(message.body, headers)
        if size > client.max_payload:
            raise PublishFailed(
                "message_too_large",
                f"{size} bytes of body and headers; the server's max_payload is "
                f"{client.max_payload}",
            )
        publish = asyncio.ensure_future(js.publish(target.name, message.body, headers=headers))
        connection.pending.add(publish)
        try:
            ack = await publish
        finally:
            connection.pending.discard(publish)
        if ack.duplicate:
            return (
                f"already in stream {ack.stream!r} as #{ack.seq}: a duplicate of message id "
                f"{message.dedupe_id!r} within the stream's window"
            )
        return f"stored in stream {ack.stream!r} as #{ack.seq}"

    def _connect_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if isinstance(exc, nats.errors.AuthorizationError):
            return PublishFailed(
                "broker_auth_failed", "NATS refused the credentials", connect_failed=True
            )
        if isinstance(exc, OSError | nats.errors.Error):  # refused, reset, no servers
            return PublishFailed(
                "broker_unreachable",
                f"no connection to NATS ({type(exc).__name__})",
                connect_failed=True,
            )
        return PublishFailed(
            "broker_error", f"{type(exc).__name__} while connecting", connect_failed=True
        )

    def _publish_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed:
        if isinstance(exc, nats.js.errors.NoStreamResponseError):
            return PublishFailed("no_stream", f"no JetStream stream captures {target.name!r}")
        if isinstance(exc, nats.errors.MaxPayloadError):
            return PublishFailed("message_too_large", "over the server's max_payload")
        if isinstance(exc, nats.js.errors.APIError):
            if exc.err_code == MESSAGE_TOO_LARGE:
                return PublishFailed("message_too_large", "over the stream's max_msg_size")
            detail = f"{exc.description or 'refused'} (code {exc.err_code})"
            return PublishFailed("broker_refused", f"JetStream: {detail}")
        if isinstance(exc, nats.errors.AuthorizationError):
            return PublishFailed(
                "broker_auth_failed", f"this user may not publish to {target.name!r}"
            )
        if isinstance(exc, OSError | nats.errors.Error):
            return PublishFailed(
                "connection_lost", f"the connection broke before the ack ({type(exc).__name__})"
            )
        return PublishFailed("broker_error", f"{type(exc).__name__} while publishing")
