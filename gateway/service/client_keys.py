"""Client keys served from memory: key hash → client, with revocation that takes effect at once.

Every authenticated request needs its client; reading it from the database each time cost a
query per request. The cache keeps each active client found by its key hash for at most ``ttl_s``
(1 s). A change to a client (revocation, a new webhook secret) drops its entries:

- on the replica that made the change, at once (the change's caller calls :meth:`forget`);
- on every other PostgreSQL replica, when the change's ``NOTIFY`` on ``gateway_client_changed``
  arrives (``gateway.http.app`` listens), within milliseconds;
- everywhere else (a notification missed while a listener reconnects, the command line changing
  an SQLite database under a running server), when the entry expires: within ``ttl_s``.

Unknown and revoked keys are not cached (each such request reads the database), so the cache
holds at most one entry per active key in use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from gateway.ids import hash_api_key
from gateway.store.clients import ClientStore
from gateway.store.records import ClientRecord

DEFAULT_TTL_S = 1.0


class ClientKeys:
    def __init__(
        self,
        clients: ClientStore,
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
        self._loading: dict[tuple[int, str], asyncio.Future[ClientRecord | None]] = {}
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
        # One read per key at a time: when an entry expires under load, the requests (or
        # webhook attempts) that miss together share the read instead of each making one.
        # A change (``forget``) drops the reads under way, so no caller after it joins one.
        slot = (id(table), key)
        flight = self._loading.get(slot)
        if flight is None:
            flight = asyncio.ensure_future(self._load(table, key, load, now))
            self._loading[slot] = flight
            flight.add_done_callback(lambda done: self._landed(slot, done))
        return await asyncio.shield(flight)

    def _landed(self, slot: tuple[int, str], flight: asyncio.Future[ClientRecord | None]) -> None:
        if self._loading.get(slot) is flight:
            del self._loading[slot]
        if not flight.cancelled():
            flight.exception()  # seen: a failure reaches the callers who awaited it

    async def _load(
        self,
        table: dict[str, tuple[ClientRecord, float]],
        key: str,
        load: Callable[[str], Awaitable[ClientRecord | None]],
        now: float,
    ) -> ClientRecord | None:
        generation = self._generation
        self.reads += 1
        client = await load(key)
        if client is None:
            table.pop(key, None)
        elif generation == self._generation:
            table[key] = (client, now + self._ttl_s)
        return client

    def forget(self, client_id: str) -> None:
        """Drop every entry of ``client_id`` (it changed here or on another replica)."""
        self._generation += 1
        self._loading.clear()
        self._by_id.pop(client_id, None)
        for key_hash in [h for h, (c, _) in self._entries.items() if c.id == client_id]:
            del self._entries[key_hash]

    def holds(self, client_id: str) -> bool:
        """Whether an entry of ``client_id`` is in the cache (expired or not)."""
        return any(client.id == client_id for client, _ in self._entries.values())

    def forget_all(self) -> None:
        self._generation += 1
        self._loading.clear()
        self._entries.clear()
        self._by_id.clear()
