"""Readiness: can this replica serve? The database must answer and commit.

A load balancer polls ``/readyz`` often; the proof (a committed write of this replica's
heartbeat row) is made at most once per ``interval_s`` and its verdict reused in between.
"""

from __future__ import annotations

from gateway.clock import Clock
from gateway.errors import StoreUnavailable
from gateway.service.ports import DatabaseFacts


class ReadinessProbe:
    def __init__(
        self, db: DatabaseFacts, replica_id: str, *, interval_s: float, clock: Clock
    ) -> None:
        self.db = db
        self.replica_id = replica_id
        self.interval_s = interval_s
        self.clock = clock
        self._checked_at: float | None = None
        self._ready = False
        self.writes = 0  # how many proofs were made (the rate limit is observable)

    async def check(self) -> None:
        """Return if the store can commit; raise :class:`StoreUnavailable` if not."""
        now = self.clock()
        if self._checked_at is None or now - self._checked_at >= self.interval_s:
            self._checked_at = now
            self.writes += 1
            try:
                await self.db.prove_commit(self.replica_id, now=now)
                self._ready = True
            except StoreUnavailable:
                self._ready = False
        if not self._ready:
            raise StoreUnavailable("The database cannot commit; this replica is not ready.")
