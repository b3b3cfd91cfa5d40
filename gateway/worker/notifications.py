"""PostgreSQL LISTEN/NOTIFY: a worker wakes as soon as another replica commits work due now.

Intake, redelivery and replay send ``NOTIFY gateway_work`` in their transaction; every worker
listens on a connection of its own (outside the pool) and ticks at once when told. Nothing
depends on it: if the connection drops, the ticker's regular ticks still find all due work, and
the listener reconnects with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from gateway.store.database import WORK_CHANNEL

log = structlog.get_logger("gateway.notifications")
APPLICATION_NAME = "gateway-work-listener"  # how its connection shows in pg_stat_activity


Connect = Callable[[], Awaitable[Any]]


class WorkListener:
    """Listens for work notifications; survives every failure (connecting, registering the
    listener, losing the connection) by reconnecting with a pause that doubles up to
    ``max_pause_s``."""

    def __init__(
        self,
        url: str,
        on_work: Callable[[], None],
        *,
        max_pause_s: float = 30.0,
        first_pause_s: float = 1.0,
        connect: Connect | None = None,
    ) -> None:
        self._url = url  # holds the password: never logged
        self._on_work = on_work
        self._max_pause_s = max_pause_s
        self._first_pause_s = first_pause_s
        self._connect = connect or self._connect_to_server
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.connections = 0  # how many times it has connected
        self.failures = 0  # how many times connecting or listening failed

    async def _connect_to_server(self) -> Any:
        return await asyncpg.connect(
            self._url, timeout=10, server_settings={"application_name": APPLICATION_NAME}
        )

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        pause = self._first_pause_s
        while True:
            conn: Any = None
            try:
                conn = await self._connect()
                self.connections += 1
                await self._listen(conn)
                log.warning("work_listener_lost")
                pause = self._first_pause_s  # it was listening: reconnect at once-ish
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: connect, register, or the driver
                self.failures += 1
                log.warning("work_listener_unavailable", error=type(exc).__name__, retry_s=pause)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(pause)
            pause = min(self._max_pause_s, pause * 2)

    async def _listen(self, conn: Any) -> None:
        """Listen until the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(WORK_CHANNEL, self._notified)
        self.listening.set()
        await lost.wait()

    def _notified(self, *_: Any) -> None:
        self._on_work()
