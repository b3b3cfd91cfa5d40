"""One send for every destination: an ``https://`` callback or a message broker.

The delivery pipeline calls :meth:`DestinationSender.send` for any delivery; ``http``/``https``
URLs go to the webhook sender (``gateway.delivery.sender``), ``amqp``/``amqps``, ``nats`` and
``redis``/``rediss`` to the publisher of their kind (``gateway.delivery.brokers``). Whatever
happens, one ``AttemptResult`` comes back; nothing raises for the destination's trouble.

Before a broker is connected to: the stored target must parse (else ``invalid_target``, which
retrying cannot mend), must not hold credentials (they are stored apart and given as
``credentials``), and the client's broker allow-list must name it (else ``blocked_address``:
nothing is connected to). Credentials for an http(s) URL are refused the same way.

**The dedupe id** (``dedupe_id``) is the caller's choice, because it decides what a broker that
deduplicates does (JetStream drops a second message with the same ``Nats-Msg-Id`` within the
stream's duplicate window, and acks it as a duplicate):

- every retry of one delivery uses the same id, its ``webhook-id``: a retry after an ack was
  lost is then not stored twice;
- an explicit redelivery or a replay uses a fresh id (the new attempt's own, say): it must
  arrive, even within the window of the first delivery.

RabbitMQ carries it as the message's ``message_id`` (a consumer may deduplicate on it); Redis
does not use it (a consumer deduplicates on the ``webhook-id`` field). HTTP ignores it.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from gateway.delivery.brokers.common import BrokerMessage, BrokerOptions, Publisher
from gateway.delivery.brokers.jetstream import JetStreamPublisher
from gateway.delivery.brokers.rabbitmq import RabbitMqPublisher
from gateway.delivery.brokers.redis_streams import RedisStreamPublisher
from gateway.delivery.guard import Resolver
from gateway.domain.broker_allowlist import BrokerAllowlist, allows
from gateway.domain.broker_targets import (
    BrokerCredentials,
    BrokerKind,
    BrokerTarget,
    BrokerTargetRejected,
    is_broker_url,
    parse_target,
)
from gateway.domain.delivery import AttemptResult

NO_BROKERS = BrokerAllowlist()


class SendsWebhooks(Protocol):
    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult: ...


class HttpSender(Protocol):
    """POSTs one webhook attempt (``gateway.delivery.sender.WebhookSender``)."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult: ...

    async def aclose(self) -> None: ...


@functools.lru_cache(maxsize=4096)  # stored targets repeat; parsing is pure
def _target(url: str) -> BrokerTarget | str:
    """The target of a stored URL, or why it is refused (never keeping credentials)."""
    try:
        parsed = parse_target(url)
    except BrokerTargetRejected as exc:
        return f"not a valid broker target ({exc})"
    if parsed.credentials is not None:
        return "the target URL holds credentials; they are stored apart"
    return parsed.target


class BorrowedSender:
    """An http sender owned elsewhere (the composition root closes it): sends through it,
    and closing does nothing."""

    def __init__(self, sender: SendsWebhooks) -> None:
        self._sender = sender

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        return await self._sender.send(url, body, headers)

    async def aclose(self) -> None:
        return None


def broker_publishers(
    options: BrokerOptions | None = None,
    *,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[BrokerKind, Publisher]:
    """A publisher for each broker kind (each connects on its first publish)."""
    return {
        BrokerKind.AMQP: RabbitMqPublisher(options, resolver=resolver, ssl_context=ssl_context),
        BrokerKind.NATS: JetStreamPublisher(options, resolver=resolver, ssl_context=ssl_context),
        BrokerKind.REDIS: RedisStreamPublisher(options, resolver=resolver, ssl_context=ssl_context),
    }


class DestinationSender:
    """Routes each attempt by its URL's scheme; see the module's text."""

    def __init__(
        self,
        http: HttpSender,
        publishers: Mapping[BrokerKind, Publisher],
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._http = http
        self._publishers = dict(publishers)
        self._clock = clock

    @classmethod
    def create(
        cls,
        http: HttpSender,
        *,
        options: BrokerOptions | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> DestinationSender:
        """With a publisher for each broker kind (each connects on its first publish)."""
        return cls(http, broker_publishers(options, resolver=resolver, ssl_context=ssl_context))

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        credentials: BrokerCredentials | None = None,
        broker_allowlist: BrokerAllowlist = NO_BROKERS,
        dedupe_id: str,
    ) -> AttemptResult:
        """One attempt to ``url``: ``body`` as is, ``headers`` as HTTP headers or as the
        message's headers (Redis: fields). ``credentials`` and ``broker_allowlist`` are the
        target's and its client's (brokers only); ``dedupe_id``: see the module's text."""
        if not is_broker_url(url):
            if credentials is not None:
                return self._refused("invalid_target", "credentials are for broker targets only")
            return await self._http.send(url, body, headers)
        target = _target(url)
        if isinstance(target, str):
            return self._refused("invalid_target", target)
        if not allows(broker_allowlist, target):
            return self._refused(
                "blocked_address", f"the client's broker allow-list does not name {target.url}"
            )
        publisher = self._publishers.get(target.kind)
        if publisher is None:
            return self._refused("invalid_target", f"no publisher for {target.scheme} targets")
        message = BrokerMessage(body=body, headers=headers, dedupe_id=dedupe_id)
        return await publisher.publish(target, credentials, message)

    async def aclose(self) -> None:
        await self._http.aclose()
        for publisher in self._publishers.values():
            await publisher.aclose()

    def _refused(self, error: str, note: str) -> AttemptResult:
        return AttemptResult(status_code=None, latency_ms=0.0, error=error, response_excerpt=note)
