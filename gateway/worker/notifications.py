"""PostgreSQL LISTEN/NOTIFY: a worker wakes as soon as another replica commits work due now.

Intake, redelivery and replay send ``NOTIFY gateway_work`` in their transaction; every worker
listens on a connection of its own (outside the pool) and ticks at once when told. Nothing
depends on it: if the connection drops, the ticker's regular ticks still find all due work, and
the listener reconnects with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from gateway.store.database import WORK_CHANNEL

log = structlog.get_logger("gateway.notifications")
APPLICATION_NAME = "gateway-work-listener"  # how its connection shows in pg_stat_activity


class WorkListener:
    def __init__(self, url: str, on_work: Callable[[], None], *, max_pause_s: float = 30.0) -> None:
        self._url = url  # holds the password: never logged
        self._on_work = on_work
        self._max_pause_s = max_pause_s
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.connections = 0  # how many times it has (re)connected

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        pause = 1.0
        while True:
            try:
                conn = await asyncpg.connect(
                    self._url, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("work_listener_unavailable", error=type(exc).__name__, retry_s=pause)
                await asyncio.sleep(pause)
                pause = min(self._max_pause_s, pause * 2)
                continue
            pause = 1.0
            self.connections += 1
            try:
                await self._listen(conn)
                log.warning("work_listener_lost")
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _listen(self, conn: Any) -> None:
        """Listen until the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(WORK_CHANNEL, self._notified)
        self.listening.set()
        await lost.wait()

    def _notified(self, *_: Any) -> None:
        self._on_work()
