"""A subscription's throttle: at most ``rate`` attempts per second, evenly spaced (no bursts).

The state of one throttle is the earliest time its next attempt may go (``next_free``); each
admitted attempt moves it ``1 / rate`` on from now (or from where it was, if later). Pure: the
caller keeps the state and passes the time.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_RATE = 1000.0
# Claims run on ticks; an attempt this close to its time goes now rather than a tick later.
_TOLERANCE_S = 0.001


class Admission(NamedTuple):
    admitted: bool
    next_free: float  # when admitted: the new state; when not: when to come back


def admit(next_free: float | None, rate: float, now: float) -> Admission:
    """May an attempt go at ``now`` under a throttle of ``rate`` per second whose next free
    time is ``next_free`` (None: never used)?"""
    if next_free is not None and next_free - now > _TOLERANCE_S:
        return Admission(False, next_free)
    start = now if next_free is None else max(now, next_free)
    return Admission(True, start + 1.0 / rate)
