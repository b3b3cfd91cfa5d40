"""Write-behind batching of the worker's routine fenced writes (group commit).

Most polls change nothing but a job's counters and its next due time ("still generating"), and
every webhook attempt writes its record, its delivery's move and a history row. Written one
transaction each, their commits and statement overhead were a large share of a worker's time,
and on SQLite (one writer) the transactions queued behind each other (bench/README.md). Here
every such write made by any task of this process is queued; one drain task commits everything
queued in one transaction (``JobStore.update_jobs``, ``DeliveryStore.record_attempts``), and
whatever arrives while that commit runs goes into the next one. No timer: at low load a write
commits at once (a batch of one); under load the batches grow by themselves.

Each caller awaits its own write and learns whether it landed, so a refused fence (the lease
was lost) is still reported to the task that made it. Nothing is acknowledged before its
commit: a crash loses only writes whose callers were still waiting, and those rows keep their
leases until they expire, when the work is done again (as after a crash mid-write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from gateway.store.jobs import FencedJobWrite, JobStore
from gateway.store.records import JobChange

# At most this many writes per transaction (one executemany per set of columns).
MAX_BATCH = 512

W = TypeVar("W")

# Commits writes in one transaction and says, for each, whether its fence let it land.
CommitMany = Callable[[Sequence[W]], Awaitable[list[bool]]]


class WriteBatcher(Generic[W]):
    """Queues fenced writes of one kind and commits them together with ``commit``."""

    def __init__(self, commit: CommitMany[W], *, max_batch: int = MAX_BATCH) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._queue: list[tuple[W, asyncio.Future[bool]]] = []
        self._drainer: asyncio.Task[None] | None = None
        # Figures for profiling and tests: transactions committed and writes in them.
        self.batches = 0
        self.writes = 0

    async def write(self, item: W) -> bool:
        """Commit ``item`` with the others queued meanwhile; True once committed, False if the
        fence refused it."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                landed = await self._commit([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch + self._queue:
                    future.cancel()
                self._queue.clear()
                raise
            except Exception as exc:  # every caller of this batch sees the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.writes += len(batch)
            for (_, future), ok in zip(batch, landed, strict=True):
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result(ok)

    async def close(self) -> None:
        """Let the writes already queued commit (at shut-down, before the engine goes)."""
        drainer = self._drainer
        # (A drain of another event loop, e.g. an app served from a test's portal, has ended
        # with that loop's work; it cannot be awaited from this one.)
        if drainer is None or drainer.done():
            return
        if drainer.get_loop() is not asyncio.get_running_loop():
            return
        await asyncio.gather(drainer, return_exceptions=True)


class JobWriteBatcher(WriteBatcher[FencedJobWrite]):
    """The poll results' fenced job writes (``JobStore.update_jobs``)."""

    def __init__(self, jobs: JobStore, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(jobs.update_jobs, max_batch=max_batch)

    async def update(
        self, job_id: str, token: str, change: JobChange, *, now: float, release: bool = True
    ) -> bool:
        """A fenced write (as ``JobStore.update_job`` without deliveries or history)."""
        return await self.write(FencedJobWrite(job_id, token, change, now, release))
