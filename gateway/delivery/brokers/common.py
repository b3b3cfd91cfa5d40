"""What the three broker publishers share: options, the message, the pinned address, and the
outcome of an attempt (the skeleton of a publish is ``gateway.delivery.brokers.base``).

**Addresses.** Broker libraries resolve host names themselves, so a publisher resolves the
target's host here first (bounded), refuses it if any address is one no broker has
(``broker_address_refusal``: unspecified, multicast, broadcast), and hands the library the
checked IP address, never the name: the name cannot point somewhere else between the check and
the connection (DNS rebinding). Which brokers may be reached at all is the client's broker
allow-list, checked before (``gateway.delivery.destinations``).

**Time.** Connecting (resolving, TCP, handshake, authentication) is bounded by
``connect_timeout_s``; publishing, from the first byte of the message to the broker's confirm,
by ``publish_timeout_s``.

**Outcomes.** "Delivered" only once the broker confirmed. Failure codes (``error``)::

    blocked_address      an address no broker has; nothing was connected to
    broker_unreachable   no connection (refused, no answer in time, no such name); nothing sent
    broker_auth_failed   the broker refused the credentials (or this user may not publish there)
    broker_refused       another refusal: a missing virtual host, a nack, a wrong key type, …
    unroutable           RabbitMQ returned it: no queue is bound for the routing key
    no_exchange          RabbitMQ: the exchange does not exist
    no_stream            NATS: no JetStream stream captures the subject
    message_too_large    over the broker's limit or ``max_message_bytes``: nothing sent
    connection_lost      the connection broke before the confirm: it may or may not be stored
    timeout              no confirm within ``publish_timeout_s``: it may or may not be stored
    broker_error         anything else the library raised (its type in the note)

Each comes with a short note in ``response_excerpt``. Credentials never: notes are scrubbed of
them (:func:`scrub`) and cut to ``NOTE_CHARS``; log lines name the broker by scheme, host and
port only.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.delivery.guard import Resolver
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, BrokerTarget, broker_address_refusal
from gateway.domain.delivery import AttemptResult

NOTE_CHARS = 300


@dataclass(frozen=True)
class BrokerOptions:
    """Bounds for every broker publish. ``max_message_bytes`` caps body and headers together
    (NATS: the server's ``max_payload`` too, whichever is smaller)."""

    connect_timeout_s: float = 5.0  # resolve, connect, handshake, authenticate
    publish_timeout_s: float = 10.0  # from sending the message to the broker's confirm
    max_message_bytes: int = 1_048_576
    backoff_s: float = 0.5  # after a failed connect; doubling
    backoff_max_s: float = 30.0
    max_brokers: int = 64  # connections kept (pool keys); idle ones beyond are closed
    max_connections_per_broker: int = 64  # Redis: its pool of connections per key


@dataclass(frozen=True)
class BrokerMessage:
    """What is published: the exact body bytes, the Standard Webhooks headers, and the id a
    broker may deduplicate on (JetStream's ``Nats-Msg-Id``; AMQP's ``message-id`` property)."""

    body: bytes
    headers: Mapping[str, str]
    dedupe_id: str

    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v.encode()) for k, v in self.headers.items())


class Publisher(Protocol):
    """One broker kind's publisher (``RabbitMqPublisher``, ``JetStreamPublisher``,
    ``RedisStreamPublisher``): one publish, one ``AttemptResult``, never a raise."""

    async def publish(
        self,
        target: BrokerTarget,
        credentials: BrokerCredentials | None,
        message: BrokerMessage,
    ) -> AttemptResult: ...

    async def aclose(self) -> None: ...


class PublishFailed(Exception):
    """An attempt's failure inside a publisher: an ``error`` code and a short ``note``."""

    def __init__(self, error: str, note: str = "", *, connect_failed: bool = False) -> None:
        super().__init__(f"{error}: {note}" if note else error)
        self.error = error
        self.note = note
        self.connect_failed = connect_failed


def scrub(text: str, credentials: BrokerCredentials | None) -> str:
    """``text`` without the credentials' strings, at most ``NOTE_CHARS`` long."""
    if credentials is not None:
        for secret in sorted(credentials.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
    return text[:NOTE_CHARS]


class Outcome:
    """Times one attempt and makes its ``AttemptResult``."""

    def __init__(
        self,
        credentials: BrokerCredentials | None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._started = clock()

    def _latency_ms(self) -> float:
        return (self._clock() - self._started) * 1000.0

    def confirmed(self, note: str) -> AttemptResult:
        return AttemptResult(
            status_code=None,
            latency_ms=self._latency_ms(),
            acknowledged=True,
            response_excerpt=scrub(note, self._credentials),
        )

    def failed(self, failure: PublishFailed) -> AttemptResult:
        return AttemptResult(
            status_code=None,
            latency_ms=self._latency_ms(),
            error=failure.error,
            response_excerpt=scrub(failure.note, self._credentials),
            connect_failed=failure.connect_failed,
        )


def host_for_url(ip: IPAddress) -> str:
    """An address as a URL writes it (IPv6 in brackets)."""
    return f"[{ip}]" if ip.version == 6 else str(ip)


async def pinned_address(target: BrokerTarget, resolver: Resolver) -> IPAddress:
    """The address to connect to: the host's first address, after checking all of them.

    Raises ``PublishFailed``: ``blocked_address`` (an address no broker has) or
    ``broker_unreachable`` (the name does not resolve, now). The caller bounds the time."""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(target.host)]
    except ValueError:
        try:
            addresses = await resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no address"
            raise PublishFailed(
                "broker_unreachable",
                f"{target.host} does not resolve ({detail})",
                connect_failed=True,
            ) from None
    if not addresses:
        raise PublishFailed(
            "broker_unreachable", f"{target.host} has no address", connect_failed=True
        )
    for ip in addresses:
        reason = broker_address_refusal(ip)
        if reason is not None:
            shown = target.host if str(ip) == target.host else f"{target.host} → {ip}"
            raise PublishFailed("blocked_address", f"broker address {shown} is {reason}")
    return addresses[0]
