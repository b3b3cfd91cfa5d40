"""The retention sweeper: removes finished jobs' records past ``GATEWAY_JOB_RETENTION_S``.

An APScheduler interval job beside the ticker (``gateway.worker.ticker``), on every replica
with a worker: each sweep removes due jobs in batches, each batch its own short transaction
(``gateway.store.retention``), at most a few batches per sweep, then counts the tables' rows and
the database's size for the gauges (a scrape reads the last figures and never counts). Two
replicas sweeping at once take different jobs (``SKIP LOCKED``); a failed sweep is logged and
the next one tries again.
"""

from __future__ import annotations

import asyncio

import msgspec

from gateway.domain.retention import BATCH_JOBS, MAX_BATCHES_PER_SWEEP, sweep_more
from gateway.service.retention import retention_policy
from gateway.service.runtime import Runtime, lease_time


class Sweep(msgspec.Struct, frozen=True):
    """What one sweep did: its batches and the rows it removed, by table."""

    batches: int
    removed: dict[str, int]


class Sweeper:
    def __init__(
        self, rt: Runtime, *, batch: int = BATCH_JOBS, max_batches: int = MAX_BATCHES_PER_SWEEP
    ) -> None:
        self.rt = rt
        self.batch = batch
        self.max_batches = max_batches
        self.policy = retention_policy(rt.settings)
        self._stopping = False
        self._idle = asyncio.Event()  # set while no scheduled sweep runs
        self._idle.set()

    async def sweep(self) -> Sweep:
        """Remove what is due (a bounded number of batches), then refresh the gauges."""
        rt = self.rt
        removed = dict.fromkeys(("jobs", "deliveries", "delivery_attempts", "job_events"), 0)
        batches = 0
        while True:
            # The database's clock on PostgreSQL: leases are compared with the time they use.
            now = await lease_time(rt)
            done = await rt.store.retention.remove_finished(
                finished_before=self.policy.finished_before(now), now=now, limit=self.batch
            )
            batches += 1
            for table, count in done.by_table().items():
                removed[table] += count
                if count:
                    rt.metrics.retention_removed.labels(table=table).inc(count)
            if self._stopping or not sweep_more(
                removed=done.jobs,
                batch=self.batch,
                batches_done=batches,
                max_batches=self.max_batches,
            ):
                break
            await asyncio.sleep(0)  # between batches, the rest of the process runs
        if removed["jobs"]:
            rt.log.info("retention_swept", batches=batches, **removed)
        await self.refresh_gauges()
        return Sweep(batches=batches, removed=removed)

    async def refresh_gauges(self) -> None:
        rt = self.rt
        for table, count in (await rt.store.retention.count_rows()).items():
            rt.metrics.table_rows.labels(table=table).set(count)
        size = await rt.store.retention.size()
        rt.metrics.database_bytes.set(size.total_bytes)
        rt.metrics.database_free_bytes.set(size.free_bytes)

    async def run(self) -> None:
        """The scheduled job: a sweep whose failure (a database hiccup) is only logged."""
        if self._stopping:
            return
        self._idle.clear()
        try:
            await self.sweep()
        except Exception:
            self.rt.log.exception("retention_sweep_failed")
        finally:
            self._idle.set()

    def stop(self) -> None:
        """Start no sweep, and end a running one after its current batch."""
        self._stopping = True

    async def idle(self) -> None:
        """Until no scheduled sweep runs (the worker waits for it before the store closes)."""
        await self._idle.wait()
