"""Time as a dependency: the service reads the clock only through a ``Clock``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


class CorrectedClock:
    """A local clock corrected by its offset to a reference clock, as last observed.

    On PostgreSQL the reference is the database's clock, which every replica shares: leases and
    due times are then comparable across replicas whatever their own clocks say (see
    ``gateway.store.database.Database.now``). Between two observations the local clock's rate is
    trusted; a step in it (NTP) is corrected at the next observation (every claim).
    """

    def __init__(self, local: Clock) -> None:
        self.local = local
        self.offset = 0.0

    def __call__(self) -> float:
        return self.local() + self.offset

    def observe(self, reference_now: float) -> None:
        """The reference clock reads ``reference_now`` at this moment."""
        self.offset = reference_now - self.local()

    def to_local(self, at: float) -> float:
        """A moment of this clock as the local clock will read it (for local timers)."""
        return at - self.offset


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 in UTC with milliseconds (``2026-11-25T05:07:04.123Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
