"""Client keys from memory: requests that miss one key together share one database read (an
entry expiring under load costs one read, not one per request), and a change still takes effect
at once: a request after ``forget`` never shares a read that began before it."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from gateway.errors import StoreUnavailable
from gateway.service.client_keys import ClientKeys
from gateway.store.clients import ClientStore
from gateway.store.records import ClientRecord
from gateway.testing.waiting import wait_for_async
from tests.store.builders import client_record


class HeldClients:
    """A client table whose reads wait until the test releases them, answering what it holds
    at that moment (or failing, when told to)."""

    def __init__(self, client: ClientRecord) -> None:
        self.client: ClientRecord | None = client
        self.release = asyncio.Event()
        self.fail = False
        self.started = 0

    async def by_key_hash(self, key_hash: str) -> ClientRecord | None:
        self.started += 1
        await self.release.wait()
        if self.fail:
            raise StoreUnavailable()
        return self.client if self.client and self.client.api_key_hash == key_hash else None


def keys_over(table: HeldClients) -> ClientKeys:
    return ClientKeys(cast(ClientStore, table), clock=lambda: 0.0)


async def test_requests_missing_one_key_together_share_one_read() -> None:
    """Ten lookups of one uncached key at once: one read; all ten get the client."""
    client = client_record("cli_a")
    table = HeldClients(client)
    keys = keys_over(table)
    lookups = [asyncio.ensure_future(keys.by_key_hash(client.api_key_hash)) for _ in range(10)]
    await wait_for_async(lambda: table.started == 1, timeout_s=5, what="the read started")
    table.release.set()

    assert [client] * 10 == await asyncio.gather(*lookups)
    assert (1, 1) == (keys.reads, table.started)


async def test_a_lookup_after_a_change_does_not_share_an_older_read() -> None:
    """A read is under way when the client is revoked (``forget``): the lookup after the change
    reads again and sees the revocation; the cache keeps neither answer of the old read."""
    client = client_record("cli_a")
    table = HeldClients(client)
    keys = keys_over(table)
    before = asyncio.ensure_future(keys.by_key_hash(client.api_key_hash))
    await wait_for_async(lambda: table.started == 1, timeout_s=5, what="the first read started")
    table.client = None  # revoked…
    keys.forget(client.id)  # …and forgotten, as the revoking replica does
    after = asyncio.ensure_future(keys.by_key_hash(client.api_key_hash))
    await wait_for_async(lambda: table.started == 2, timeout_s=5, what="a second read started")
    table.release.set()

    assert (None, None) == (await before, await after)
    assert not keys.holds(client.id)


async def test_a_failed_read_fails_its_lookups_and_the_next_lookup_reads_again() -> None:
    """The store is down: every lookup sharing the read gets the outage; once it is back, the
    next lookup reads again and is answered."""
    client = client_record("cli_a")
    table = HeldClients(client)
    table.fail = True
    keys = keys_over(table)
    lookups = [asyncio.ensure_future(keys.by_key_hash(client.api_key_hash)) for _ in range(3)]
    await wait_for_async(lambda: table.started == 1, timeout_s=5, what="the read started")
    table.release.set()
    outcomes = await asyncio.gather(*lookups, return_exceptions=True)
    table.fail = False

    assert [StoreUnavailable] * 3 == [type(o) for o in outcomes]
    assert client == await keys.by_key_hash(client.api_key_hash)
    assert 2 == table.started


async def test_a_lookup_that_goes_away_leaves_the_read_to_the_others() -> None:
    """The first lookup's request is cancelled mid-read: the other lookup still gets the
    client, from the same read."""
    client = client_record("cli_a")
    table = HeldClients(client)
    keys = keys_over(table)
    first = asyncio.ensure_future(keys.by_key_hash(client.api_key_hash))
    second = asyncio.ensure_future(keys.by_key_hash(client.api_key_hash))
    await wait_for_async(lambda: table.started == 1, timeout_s=5, what="the read started")
    first.cancel()
    table.release.set()

    assert client == await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert 1 == table.started
