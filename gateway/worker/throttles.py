"""The subscriptions' throttles on this replica: when each may send its next attempt.

A throttle is per replica (each replica keeps its own state; N replicas working send up to N
times the rate). A delivery claimed before its subscription's next free time is given back,
due then, without taking a slot or an attempt (as an open circuit's is), so it costs its
client nothing of its share. No I/O: the ticker asks, with the time.
"""

from __future__ import annotations

from gateway.domain.throttle import admit

# Forget throttles idle this long (their state no longer holds anything back).
_IDLE_S = 60.0
_PRUNE_AT = 4096


class Throttles:
    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}

    def deferred_until(self, subscription_id: str, rate: float, now: float) -> float | None:
        """None: an attempt of ``subscription_id`` may go now (counted); else when it may."""
        admission = admit(self._next_free.get(subscription_id), rate, now)
        if not admission.admitted:
            return admission.next_free
        self._next_free[subscription_id] = admission.next_free
        if len(self._next_free) > _PRUNE_AT:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        for key in [k for k, at in self._next_free.items() if at < now - _IDLE_S]:
            del self._next_free[key]

    def __len__(self) -> int:
        return len(self._next_free)
