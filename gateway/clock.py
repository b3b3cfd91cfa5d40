"""Time as a dependency: the service reads the clock only through a ``Clock``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 in UTC with milliseconds (``2026-11-25T05:07:04.123Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
