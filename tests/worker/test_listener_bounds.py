"""The NOTIFY listener notices a silently dropped path within its bound (it pings its idle
connection) and listens again by itself after the heal."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg

from gateway.store.bounds import DatabaseBounds
from gateway.testing.tcp_proxy import FaultProxy
from gateway.testing.waiting import wait_for_async
from gateway.worker.notifications import WorkListener
from tests.pg import fresh_database, require_pg


async def test_a_black_holed_listener_reconnects_after_the_heal() -> None:
    require_pg()
    async with fresh_database() as url:
        target = urlsplit(url)
        async with FaultProxy(("127.0.0.1", target.port or 5432)) as proxy:
            proxied = url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}")
            woke = asyncio.Event()
            listener = WorkListener(
                proxied, woke.set, first_pause_s=0.05, bounds=DatabaseBounds(timeout_s=0.5)
            )
            listener.start()
            try:
                await asyncio.wait_for(listener.listening.wait(), timeout=10.0)
                proxy.black_hole()
                # Idle, then a ping that goes unanswered: about twice the bound.
                await wait_for_async(lambda: listener.failures >= 1, timeout_s=5.0)
                assert not listener.listening.is_set()
                proxy.pass_through()
                await wait_for_async(lambda: listener.listening.is_set(), timeout_s=10.0)
                direct = await asyncpg.connect(url)
                try:
                    await direct.execute("NOTIFY gateway_work")
                finally:
                    await direct.close()
                await asyncio.wait_for(woke.wait(), timeout=10.0)
            finally:
                await listener.stop()
    assert listener.connections >= 2
