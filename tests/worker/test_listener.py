"""The work listener survives every failure path, not only a dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from gateway.testing.waiting import wait_for_async
from gateway.worker.notifications import WorkListener


class FakeConnection:
    def __init__(self, *, fail_register: bool) -> None:
        self.fail_register = fail_register
        self.closed = False
        self.listeners: list[Callable[..., None]] = []

    def add_termination_listener(self, _callback: Callable[[Any], None]) -> None:
        return None

    async def add_listener(self, _channel: str, callback: Callable[..., None]) -> None:
        if self.fail_register:
            raise asyncpg.exceptions.InterfaceError("connection is closed")
        self.listeners.append(callback)

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        self.closed = True


async def test_a_failure_to_register_the_listener_is_retried_with_backoff() -> None:
    """Connecting works but registering fails (twice), and once connecting itself fails: the
    listener keeps reconnecting and ends up listening; failed connections are closed."""
    made: list[FakeConnection] = []
    outcomes = ["register_fails", "connect_fails", "register_fails", "works"]

    async def connect() -> FakeConnection:
        outcome = outcomes.pop(0)
        if outcome == "connect_fails":
            raise ConnectionRefusedError("nothing listens")
        made.append(FakeConnection(fail_register=outcome == "register_fails"))
        return made[-1]

    woke = asyncio.Event()
    listener = WorkListener("postgresql://unused", woke.set, first_pause_s=0.01, connect=connect)
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), timeout=10.0)
        made[-1].listeners[0](made[-1], 1, "gateway_work", "")  # asyncpg's callback arguments
        await asyncio.wait_for(woke.wait(), timeout=10.0)
        await wait_for_async(lambda: listener.failures == 3, timeout_s=10.0)
    finally:
        await listener.stop()
    assert (3, [True, True, True]) == (listener.connections, [c.closed for c in made])
