"""Waiting on a condition with a bounded timeout (tests never sleep for a fixed time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, timeout_s: float, interval_s: float = 0.05, what: str = ""
) -> T:
    """Return the first truthy value of ``condition()``; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(interval_s)


async def wait_for_async(
    condition: Callable[[], T], *, timeout_s: float, interval_s: float = 0.02, what: str = ""
) -> T:
    """``wait_for`` inside an event loop: the loop keeps running while we wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        await asyncio.sleep(interval_s)
