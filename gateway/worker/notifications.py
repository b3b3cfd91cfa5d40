"""PostgreSQL LISTEN/NOTIFY: a replica hears at once what another one committed.

- ``gateway_work``: intake, redelivery and replay notify in their transaction; every worker
  listens (``WorkListener``) and ticks at once when told.
- ``gateway_job_ended`` (payload: the job id): a job reached a terminal status; every replica
  listens (``JobEndListener``) to answer its ``Prefer: wait`` requests.

Each listener holds one connection of its own (outside the pool). Nothing depends on it: if the
connection drops, regular ticks and checks still find everything, and the listener reconnects
with a growing pause. Its waits are bounded as the pool's are (``DatabaseBounds``: connect and
command timeouts, the session's timeouts and keepalives), and it pings its connection every
``timeout_s`` while idle: a network that silently drops everything is noticed within about
twice the bound, not at the TCP timeout hours later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from gateway.store.bounds import DatabaseBounds
from gateway.store.database import JOB_ENDED_CHANNEL, WORK_CHANNEL

log = structlog.get_logger("gateway.notifications")
APPLICATION_NAME = "gateway-work-listener"  # how its connection shows in pg_stat_activity
JOB_END_APPLICATION_NAME = "gateway-job-end-listener"


Connect = Callable[[], Awaitable[Any]]


class ChannelListener:
    """Calls ``on_payload(payload)`` for every notification on ``channel``; survives every
    failure (connecting, registering the listener, losing the connection) by reconnecting with a
    pause that doubles up to ``max_pause_s``."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_payload: Callable[[str], None],
        *,
        application_name: str,
        max_pause_s: float = 30.0,
        first_pause_s: float = 1.0,
        connect: Connect | None = None,
        bounds: DatabaseBounds | None = None,
    ) -> None:
        self._url = url  # holds the password: never logged
        self._bounds = bounds or DatabaseBounds()
        self._channel = channel
        self._on_payload = on_payload
        self._application_name = application_name
        self._max_pause_s = max_pause_s
        self._first_pause_s = first_pause_s
        self._connect = connect or self._connect_to_server
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.connections = 0  # how many times it has connected
        self.failures = 0  # how many times connecting or listening failed

    async def _connect_to_server(self) -> Any:
        return await asyncpg.connect(
            self._url, **self._bounds.asyncpg_connect_args(self._application_name)
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
                log.warning("listener_lost", channel=self._channel)
                pause = self._first_pause_s  # it was listening: reconnect at once-ish
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: connect, register, or the driver
                self.failures += 1
                log.warning(
                    "listener_unavailable",
                    channel=self._channel,
                    error=type(exc).__name__,
                    retry_s=pause,
                )
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
        await conn.add_listener(self._channel, self._notified)
        self.listening.set()
        every_s = self._bounds.timeout_s
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=every_s)
                return
            await conn.fetchval("SELECT 1", timeout=every_s)  # raises when the path is lost

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_payload(payload)


class WorkListener(ChannelListener):
    """A worker's ear: work is due now somewhere (it ticks at once)."""

    def __init__(
        self,
        url: str,
        on_work: Callable[[], None],
        *,
        max_pause_s: float = 30.0,
        first_pause_s: float = 1.0,
        connect: Connect | None = None,
        bounds: DatabaseBounds | None = None,
    ) -> None:
        super().__init__(
            url,
            WORK_CHANNEL,
            lambda _payload: on_work(),
            application_name=APPLICATION_NAME,
            max_pause_s=max_pause_s,
            first_pause_s=first_pause_s,
            connect=connect,
            bounds=bounds,
        )


class JobEndListener(ChannelListener):
    """A replica's ear for ``Prefer: wait``: this job id just ended (on any replica)."""

    def __init__(
        self,
        url: str,
        on_end: Callable[[str], None],
        *,
        max_pause_s: float = 30.0,
        bounds: DatabaseBounds | None = None,
    ) -> None:
        super().__init__(
            url,
            JOB_ENDED_CHANNEL,
            on_end,
            application_name=JOB_END_APPLICATION_NAME,
            max_pause_s=max_pause_s,
            bounds=bounds,
        )
