"""When a finished job's records end (issue 31): the job, its deliveries, their attempts and its
history are removed together, once the job has finished, none of its webhook events is still
owed (every delivery delivered, dead or gone) and the retention has passed since it finished.

The retention is never shorter than the idempotency keys' lifetime: a key stays answerable for
its whole TTL with the job it created (a key is stored when its job is accepted, before the job
finishes), so a retry with a live key never meets a removed job. Removal runs in small batches,
each its own short transaction, a bounded number of them per sweep.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from gateway.domain.delivery import DeliveryState
from gateway.domain.jobs import TERMINAL

# Jobs removed per transaction (with their deliveries, attempts and history): small enough that
# no transaction holds SQLite's single writer or PostgreSQL's row locks for long.
BATCH_JOBS = 100
# Batches per sweep: a backlog (a first sweep after an upgrade) drains over several sweeps.
MAX_BATCHES_PER_SWEEP = 20
# How often each worker sweeps (and refreshes the table-size gauges).
SWEEP_INTERVAL_S = 60.0


class RetentionPolicy(msgspec.Struct, frozen=True):
    """How long a finished job's records are kept (``GATEWAY_JOB_RETENTION_S``)."""

    retention_s: float
    idempotency_ttl_s: float = 0.0

    @property
    def kept_for_s(self) -> float:
        """Seconds from a job's end to its removal: the retention, or the idempotency keys'
        lifetime if that is longer."""
        return max(self.retention_s, self.idempotency_ttl_s)

    def finished_before(self, now: float) -> float:
        """Jobs that finished before this moment are due for removal (if nothing is owed)."""
        return now - self.kept_for_s

    def removes_at(
        self, *, status: str, finished_at: float | None, delivery_states: Iterable[str]
    ) -> float | None:
        """When a job's records will be removed: None while it is unfinished or one of its
        webhook events is still owed (pending); a time already past means the next sweep."""
        if status not in TERMINAL or finished_at is None:
            return None
        if any(state == DeliveryState.PENDING for state in delivery_states):
            return None
        return finished_at + self.kept_for_s


def sweep_more(*, removed: int, batch: int, batches_done: int, max_batches: int) -> bool:
    """Whether a sweep runs another batch: the last one was full (more may be due) and the
    sweep has batches left."""
    return removed >= batch and batches_done < max_batches
