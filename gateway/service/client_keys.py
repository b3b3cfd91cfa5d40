"""Client keys served from memory: key hash → client, with revocation that takes effect at once.

Every authenticated request needs its client; reading it from the database each time cost a
query per request. The cache keeps each active client found by its key hash for at most ``ttl_s``
(1 s). A change to a client (revocation, a new webhook secret) drops its entries:

- on the replica that made the change, at once (the change's caller calls :meth:`forget`);
- on every other PostgreSQL replica, when the change's ``NOTIFY`` on ``gateway_client_changed``
  arrives (``gateway.app`` listens), within milliseconds;
- everywhere else (a notification missed while a listener reconnects, the command line changing
  an SQLite database under a running server), when the entry expires: within ``ttl_s``.

Unknown and revoked keys are not cached (each such request reads the database), so the cache
holds at most one entry per active key in use. Requests that miss the same key at the same time
(its entry expiring under load) share one read; a request after a change never shares a read
that began before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from gateway.ids import hash_api_key
from gateway.service.ports import ClientRows
from gateway.store.records import ClientRecord

DEFAULT_TTL_S = 1.0


class ClientKeys:
    def __init__(
        self,
        clients: ClientRows,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[ClientRecord, float]] = {}  # hash → (client, expiry)
        self._by_id: dict[str, tuple[ClientRecord, float]] = {}  # id → (client, expiry)
        # Bumped by every forget: a database read that began before a change must not put its
        # (stale) answer in the cache after the change dropped the entry.
        self._generation = 0
        # Reads under way, by (table, key, generation): a concurrent miss awaits the same one.
        self._loading: dict[tuple[int, str, int], asyncio.Task[ClientRecord | None]] = {}
        self.reads = 0  # database reads (tests and metrics see the cache work)

    async def authenticate(self, api_key: str) -> ClientRecord | None:
        """The active client holding ``api_key``, or None (unknown or revoked)."""
        if not api_key:
            return None
        return await self.by_key_hash(hash_api_key(api_key))

    async def by_key_hash(self, key_hash: str) -> ClientRecord | None:
        """The active client holding the key of this hash (a console session keeps the hash)."""
        return await self._cached(self._entries, key_hash, self._clients.by_key_hash)

    async def by_id(self, client_id: str) -> ClientRecord | None:
        """The client ``client_id`` (revoked or not), as the worker signs its webhooks with: a
        rotated secret reaches every replica as ``by_key_hash``'s changes do."""
        return await self._cached(self._by_id, client_id, self._clients.get)

    async def _cached(
        self,
        table: dict[str, tuple[ClientRecord, float]],
        key: str,
        load: Callable[[str], Awaitable[ClientRecord | None]],
    ) -> ClientRecord | None:
        entry = table.get(key)
        now = self._clock()
        if entry is not None and entry[1] > now:
            return entry[0]
        flight = (id(table), key, self._generation)
        loading = self._loading.get(flight)
        if loading is None:
            # A task of its own: a request that goes away does not cancel the others' read.
            loading = asyncio.ensure_future(self._load(table, key, load, flight, now))
            loading.add_done_callback(_observed)
            self._loading[flight] = loading
        return await asyncio.shield(loading)

    async def _load(
        self,
        table: dict[str, tuple[ClientRecord, float]],
        key: str,
        load: Callable[[str], Awaitable[ClientRecord | None]],
        flight: tuple[int, str, int],
        now: float,
    ) -> ClientRecord | None:
        generation = flight[2]
        self.reads += 1
        try:
            client = await load(key)
        finally:
            del self._loading[flight]
        if client is None:
            table.pop(key, None)
        elif generation == self._generation:
            table[key] = (client, now + self._ttl_s)
        return client

    def forget(self, client_id: str) -> None:
        """Drop every entry of ``client_id`` (it changed here or on another replica)."""
        self._generation += 1
        self._by_id.pop(client_id, None)
        for key_hash in [h for h, (c, _) in self._entries.items() if c.id == client_id]:
            del self._entries[key_hash]

    def holds(self, client_id: str) -> bool:
        """Whether an entry of ``client_id`` is in the cache (expired or not)."""
        return any(client.id == client_id for client, _ in self._entries.values())

    def forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_id.clear()


def _observed(task: asyncio.Task[ClientRecord | None]) -> None:
    """Mark a failed read as seen: every request awaiting it may have gone away."""
    if not task.cancelled():
        task.exception()
