"""Connections to brokers, pooled per broker and credentials, with backoff after failed connects.

One connect at a time per :class:`PoolKey` (concurrent publishes wait for it); after a failed
connect the next one waits ``backoff_s``, doubling up to ``backoff_max_s``, and meanwhile
publishes to that broker fail at once (the last failure, said again) without touching the
network. A connection found dead, or :meth:`ConnectionPool.discard`-ed after it broke, is
closed and the next publish makes a new one. Beyond ``max_brokers`` keys, the least recently
used idle connections are closed. Credentials are part of a key only as a hash.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from gateway.delivery.brokers.common import BrokerOptions, PublishFailed
from gateway.domain.broker_targets import BrokerCredentials, BrokerKind, BrokerTarget

C = TypeVar("C")


class PoolKey(NamedTuple):
    """A pooled connection's identity; the credentials as a hash, never text."""

    scheme: str
    host: str
    port: int
    place: str  # the AMQP virtual host, the Redis database; "" for NATS
    credentials: str

    @classmethod
    def of(cls, target: BrokerTarget, credentials: BrokerCredentials | None) -> PoolKey:
        return _key(target, credentials)


@functools.lru_cache(maxsize=4096)  # the same targets publish again and again
def _key(target: BrokerTarget, credentials: BrokerCredentials | None) -> PoolKey:
    place = {
        BrokerKind.AMQP: target.vhost,
        BrokerKind.REDIS: str(target.db),
        BrokerKind.NATS: "",
    }[target.kind]
    digest = ""
    if credentials is not None:
        material = f"{credentials.username}\x00{credentials.password}".encode()
        digest = hashlib.sha256(material).hexdigest()[:32]
    return PoolKey(target.scheme, target.host, target.port, place, digest)


@dataclass
class _Entry(Generic[C]):
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connection: C | None = None
    in_use: int = 0
    failures: int = 0  # failed connects in a row
    retry_at: float = 0.0
    last_failure: PublishFailed | None = None


class ConnectionPool(Generic[C]):
    """Connections by :class:`PoolKey` (see the module's text). ``close`` closes one quietly
    (it never raises)."""

    def __init__(
        self,
        options: BrokerOptions,
        close: Callable[[C], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self._close = close
        self._clock = clock
        self._entries: OrderedDict[PoolKey, _Entry[C]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def ready(self, key: PoolKey, alive: Callable[[C], bool]) -> C | None:
        """The key's live connection, taken (give it back with :meth:`release`), or None (then
        :meth:`acquire`). The fast path of every publish: nothing awaited."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        connection = entry.connection
        if connection is None or not alive(connection):
            return None
        entry.in_use += 1
        self._entries.move_to_end(key)
        return connection

    async def acquire(
        self,
        key: PoolKey,
        connect: Callable[[], Awaitable[C]],
        alive: Callable[[C], bool],
    ) -> C:
        """The key's connection, taken (give it back with :meth:`release`), made with
        ``connect`` if there is none alive; raises ``PublishFailed`` (``broker_unreachable``
        during a backoff; what ``connect`` raised)."""
        entry = self._entries.get(key)
        if entry is None:
            await self._trim()
            entry = self._entries.setdefault(key, _Entry())
        self._entries.move_to_end(key)
        entry.in_use += 1
        try:
            return await self._connected(entry, connect, alive)
        except BaseException:
            entry.in_use -= 1
            raise

    def release(self, key: PoolKey) -> None:
        """Give back a connection taken by :meth:`ready` or :meth:`acquire`."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.in_use -= 1

    async def _connected(
        self,
        entry: _Entry[C],
        connect: Callable[[], Awaitable[C]],
        alive: Callable[[C], bool],
    ) -> C:
        current = entry.connection
        if current is not None and alive(current):
            return current
        async with entry.lock:
            current = entry.connection
            if current is not None and alive(current):
                return current  # another publish connected meanwhile
            if current is not None:
                entry.connection = None
                await self._close(current)
            wait = entry.retry_at - self._clock()
            if wait > 0 and entry.last_failure is not None:
                last = entry.last_failure
                raise PublishFailed(
                    last.error,
                    f"{last.note} (next connection attempt in {wait:.1f} s)",
                    connect_failed=True,
                )
            try:
                connection = await connect()
            except PublishFailed as failure:
                entry.failures += 1
                step = self._options.backoff_s * 2.0 ** (entry.failures - 1)
                entry.retry_at = self._clock() + min(self._options.backoff_max_s, step)
                entry.last_failure = failure
                raise
            entry.failures, entry.retry_at, entry.last_failure = 0, 0.0, None
            entry.connection = connection
            return connection

    def discard(self, key: PoolKey, connection: C) -> None:
        """``connection`` is broken: the next publish connects anew (no backoff). It is closed
        in the background, so the failed publish answers at once (a broker that stopped
        answering would hold a polite close for seconds)."""
        entry = self._entries.get(key)
        if entry is not None and entry.connection is connection:
            entry.connection = None  # (a replaced one was closed when it was replaced)
            task = asyncio.ensure_future(self._close(connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _trim(self) -> None:
        excess = len(self._entries) + 1 - self._options.max_brokers
        for key, entry in list(self._entries.items()):
            if excess <= 0:
                return
            if entry.in_use == 0 and not entry.lock.locked():
                del self._entries[key]
                excess -= 1
                if entry.connection is not None:
                    await self._close(entry.connection)

    async def aclose(self) -> None:
        entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            if entry.connection is not None:
                await self._close(entry.connection)
        if self._closing:
            await asyncio.wait(list(self._closing))
