"""Waiting on a condition with a bounded timeout (tests never sleep for a fixed time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, timeout_s: float, interval_s: float = 0.05, what: str = ""
) -> T:
    """Return the first truthy value of ``condition()``; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (value := _check(condition, deadline, timeout_s, what)):
        time.sleep(interval_s)
    return value


async def wait_for_async(
    condition: Callable[[], T], *, timeout_s: float, interval_s: float = 0.02, what: str = ""
) -> T:
    """``wait_for`` inside an event loop: the loop keeps running while we wait."""
    deadline = time.monotonic() + timeout_s
    while not (value := _check(condition, deadline, timeout_s, what)):  # noqa: ASYNC110 (no event signals it)
        await asyncio.sleep(interval_s)
    return value


async def wait_until(
    condition: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    interval_s: float = 0.02,
    what: str = "",
) -> T:
    """``wait_for_async`` for a condition that must itself await (a query, say)."""
    deadline = time.monotonic() + timeout_s
    while not (value := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        await asyncio.sleep(interval_s)
    return value


def _check(condition: Callable[[], T], deadline: float, timeout_s: float, what: str) -> T:
    value = condition()
    if not value and time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
    return value
