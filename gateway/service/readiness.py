"""Readiness: can this replica accept jobs? The database must answer and commit, now.

A load balancer polls ``/readyz`` often; the proof (a committed write of this replica's
heartbeat row; on SQLite with room to grow, as intake's rows need) is made at most once per
``interval_s`` and a success reused in between (a failure is never reused: the next check
proves again, so a healed database is ready at once) — except that a success is dropped as soon as
any call to the database is refused as an outage (intake's 503 on a full disk, a lost
connection): the next ``/readyz`` proves again at once, so readiness turns 503 as soon as intake
would. A proof that does not finish within ``timeout_s`` is a failure (a database cut off
without an error never holds ``/readyz`` at 200). Concurrent checks share one proof.
"""

from __future__ import annotations

import asyncio

from gateway.clock import Clock
from gateway.errors import StoreUnavailable
from gateway.service.ports import DatabaseFacts


class ReadinessProbe:
    def __init__(
        self,
        db: DatabaseFacts,
        replica_id: str,
        *,
        interval_s: float,
        clock: Clock,
        timeout_s: float = 5.0,
    ) -> None:
        self.db = db
        self.replica_id = replica_id
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._checked_at: float | None = None
        self._outages_seen = db.outages
        self._ready = False
        self._proving: asyncio.Task[bool] | None = None
        self.writes = 0  # how many proofs were made (the rate limit is observable)

    def _stale(self, now: float) -> bool:
        return (
            not self._ready
            or self._checked_at is None
            or now - self._checked_at >= self.interval_s
            or self.db.outages != self._outages_seen
        )

    async def check(self) -> None:
        """Return if the store can commit; raise :class:`StoreUnavailable` if not."""
        now = self.clock()
        if self._proving is not None or self._stale(now):
            if self._proving is None:
                self._checked_at = now
                self.writes += 1
                self._proving = asyncio.ensure_future(self._prove(now))
            # Shielded: a caller that hangs up does not cancel the others' proof.
            self._ready = await asyncio.shield(self._proving)
        if not self._ready:
            raise StoreUnavailable("The database cannot commit; this replica is not ready.")

    async def _prove(self, now: float) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.db.prove_commit(self.replica_id, now=now)
            return True
        except (StoreUnavailable, TimeoutError):
            return False
        finally:
            self._outages_seen = self.db.outages
            self._proving = None
