"""The client-key cache shares one database read among callers that miss together, and a
change made meanwhile is never answered from a read that began before it."""

from __future__ import annotations

import asyncio
from typing import cast

from gateway.service.client_keys import ClientKeys
from gateway.store.clients import ClientStore
from gateway.store.records import ClientRecord


def client(secret: str) -> ClientRecord:
    return ClientRecord(
        id="cli_a", name="a", api_key_hash="h", webhook_secret=secret, created_at=0.0
    )


class HeldStore:
    """``get`` answers with ``current`` once ``release`` is set; counts its reads."""

    def __init__(self) -> None:
        self.current = client("whsec_old")
        self.reads = 0
        self.release = asyncio.Event()
        self.reading = asyncio.Event()  # set once a read has begun

    async def get(self, client_id: str) -> ClientRecord | None:
        self.reads += 1
        answer = self.current
        self.reading.set()
        await self.release.wait()
        return answer


async def test_callers_that_miss_together_share_one_read() -> None:
    store = HeldStore()
    keys = ClientKeys(cast(ClientStore, store), clock=lambda: 100.0)
    callers = [asyncio.ensure_future(keys.by_id("cli_a")) for _ in range(20)]
    await asyncio.wait_for(store.reading.wait(), 5)
    store.release.set()
    found = await asyncio.gather(*callers)
    assert 1 == store.reads
    assert {"whsec_old"} == {c.webhook_secret for c in found if c is not None}
    assert 20 == len(found)


async def test_a_change_during_a_read_is_not_answered_from_that_read() -> None:
    """A read under way when the client changes: callers after the change start their own,
    and the stale answer is not kept."""
    store = HeldStore()
    keys = ClientKeys(cast(ClientStore, store), clock=lambda: 100.0)
    before = asyncio.ensure_future(keys.by_id("cli_a"))
    await asyncio.wait_for(store.reading.wait(), 5)
    store.current = client("whsec_new")
    keys.forget("cli_a")
    store.reading.clear()
    after = asyncio.ensure_future(keys.by_id("cli_a"))
    await asyncio.wait_for(store.reading.wait(), 5)
    store.release.set()
    stale, fresh = await asyncio.gather(before, after)
    assert 2 == store.reads
    assert ("whsec_old", "whsec_new") == (
        stale.webhook_secret if stale else None,
        fresh.webhook_secret if fresh else None,
    )
    again = await keys.by_id("cli_a")
    assert 2 == store.reads
    assert again is not None
    assert "whsec_new" == again.webhook_secret
