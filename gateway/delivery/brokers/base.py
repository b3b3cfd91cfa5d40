"""The skeleton of one broker publish, shared by the three publishers: the size check, a pooled
connection (``gateway.delivery.brokers.pool``) to the checked address, the publish under its
timeout, and every failure turned into an ``AttemptResult`` (codes in
``gateway.delivery.brokers.common``). A connection that broke, timed out or raised something
unforeseen is dropped; the next publish connects anew.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

import structlog

from gateway.delivery.brokers.common import (
    BrokerMessage,
    BrokerOptions,
    Outcome,
    PublishFailed,
    pinned_address,
    scrub,
)
from gateway.delivery.brokers.pool import ConnectionPool, PoolKey
from gateway.delivery.guard import Resolver, system_resolver
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, BrokerTarget
from gateway.domain.delivery import AttemptResult

C = TypeVar("C")
log = structlog.get_logger("gateway.brokers")
# Failures after which a connection is not trusted again: it broke, or went silent, or the
# library did something unforeseen. It is dropped; the next publish connects anew.
_CONNECTION_SUSPECT = frozenset({"connection_lost", "timeout", "broker_error"})


def _cancelled_by_caller() -> bool:
    """Whether a ``CancelledError`` is the caller cancelling us, rather than a library
    cancelling its own futures when a connection drops (a lost connection, then)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class BrokerPublisher(ABC, Generic[C]):
    """The publish skeleton: size check, a pooled connection to the checked address, the
    publish under its timeout, and every failure turned into an ``AttemptResult``. A subclass
    connects, publishes on a connection (returning the note of the confirm) and classifies its
    library's exceptions."""

    broker_name: ClassVar[str]

    def __init__(
        self,
        options: BrokerOptions | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ssl_context`` for TLS targets (default: the system's verifying context);
        ``clock`` paces the reconnect backoff."""
        self.options = options or BrokerOptions()
        self._resolver = resolver or system_resolver
        self._ssl_context = ssl_context
        self._pool: ConnectionPool[C] = ConnectionPool(self.options, self._close, clock=clock)

    async def publish(
        self,
        target: BrokerTarget,
        credentials: BrokerCredentials | None,
        message: BrokerMessage,
    ) -> AttemptResult:
        """Publish ``message`` to ``target``; never raises for the broker's trouble. (One
        frame for the whole attempt: every await of a publish resumes each frame above it.)"""
        outcome = Outcome(credentials)
        size, limit = message.size(), self.options.max_message_bytes
        if size > limit:
            return outcome.failed(
                PublishFailed(
                    "message_too_large",
                    f"{size} bytes of body and headers; the limit is {limit}",
                )
            )
        key = PoolKey.of(target, credentials)
        connection = self._pool.ready(key, self._alive)
        if connection is None:
            try:
                connection = await self._connection(target, credentials, key)
            except PublishFailed as unconnected:
                return outcome.failed(unconnected)
        publish_s = self.options.publish_timeout_s
        try:
            async with asyncio.timeout(publish_s):
                note = await self._send(connection, target, message)
        except asyncio.CancelledError:
            if _cancelled_by_caller():
                self._pool.release(key)
                raise
            failure = PublishFailed("connection_lost", "the connection was closed")
        except TimeoutError:
            failure = PublishFailed(
                "timeout", f"no confirm within {publish_s:g} s: it may or may not be stored"
            )
        except PublishFailed as known:
            failure = known
        except Exception as exc:  # the library's own: classified, never raised on
            failure = self._publish_failure(exc, target)
        else:
            self._pool.release(key)
            return outcome.confirmed(note)
        self._pool.release(key)
        if failure.error in _CONNECTION_SUSPECT:
            self._pool.discard(key, connection)
            log.info("broker_connection_dropped", broker=target.broker, error=failure.error)
        return outcome.failed(failure)

    async def aclose(self) -> None:
        await self._pool.aclose()

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _connection(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, key: PoolKey
    ) -> C:
        """The slow path: wait for a connection being made, or make one."""
        connect_s = self.options.connect_timeout_s

        async def connect() -> C:
            return await self._connect_checked(target, credentials)

        try:  # a bound for publishes waiting on another's connect (its own fires first)
            async with asyncio.timeout(connect_s + 0.5):
                return await self._pool.acquire(key, connect, self._alive)
        except TimeoutError:
            raise PublishFailed(
                "broker_unreachable", f"no connection within {connect_s:g} s", connect_failed=True
            ) from None

    async def _connect_checked(
        self, target: BrokerTarget, credentials: BrokerCredentials | None
    ) -> C:
        timeout_s = self.options.connect_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                ip = await pinned_address(target, self._resolver)
                connection = await self._connect(target, credentials, ip)
        except asyncio.CancelledError:
            if _cancelled_by_caller():
                raise
            failure = PublishFailed(
                "broker_unreachable", "the connection was closed", connect_failed=True
            )
        except TimeoutError:
            failure = PublishFailed(
                "broker_unreachable", f"no connection within {timeout_s:g} s", connect_failed=True
            )
        except PublishFailed as known:
            failure = known
        except Exception as exc:  # the library's own: classified, never raised on
            failure = self._connect_failure(exc, target)
        else:
            log.info("broker_connected", broker=target.broker, address=str(ip))
            return connection
        failure.note = scrub(failure.note, credentials)
        log.warning(
            "broker_connect_failed", broker=target.broker, error=failure.error, note=failure.note
        )
        raise failure

    @abstractmethod
    async def _connect(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, ip: IPAddress
    ) -> C:
        """A ready connection to ``ip`` (the checked address of ``target.host``)."""

    @abstractmethod
    def _alive(self, connection: C) -> bool: ...

    @abstractmethod
    async def _close(self, connection: C) -> None:
        """Close quietly (never raises)."""

    @abstractmethod
    async def _send(self, connection: C, target: BrokerTarget, message: BrokerMessage) -> str:
        """Publish and wait for the confirm; returns its note; raises ``PublishFailed`` or the
        library's exceptions."""

    @abstractmethod
    def _connect_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed: ...

    @abstractmethod
    def _publish_failure(self, exc: Exception, target: BrokerTarget) -> PublishFailed: ...
