"""A caller who hangs up costs nothing but its own wait (issue 31, cancellation).

A request's task is cancelled when its caller goes away (an SSE stream closed early). If the
cancellation lands in the middle of a database call, the driver's connection is left
mid-command: SQLAlchemy discards it (a new connection for the next request), and on aiosqlite
its graceful close could be left pending ("Task was destroyed but it is pending!" at error
level). :func:`finish_anyway` runs such a call in a task of its own that a cancellation of the
caller does not reach: the call ends as it would have, its connection goes back to the pool, and
only the caller's wait is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Calls still running after their caller left: held here so that they are never collected
# half-way (a task only weakly referenced by the loop may be).
_RUNNING: set[asyncio.Future[object]] = set()


def _done(task: asyncio.Future[object]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # seen: its caller may have gone away


async def finish_anyway(call: Callable[[], Awaitable[T]]) -> T:
    """``await call()``, except that cancelling the caller does not cancel the call."""
    task: asyncio.Future[T] = asyncio.ensure_future(call())
    _RUNNING.add(task)  # type: ignore[arg-type]
    task.add_done_callback(_done)  # type: ignore[arg-type]
    return await asyncio.shield(task)
