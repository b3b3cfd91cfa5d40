"""``Prefer: wait=N``: hold a request until its job ends, without a thread or a connection each.

One registry per process (:class:`JobWaiters`) maps job ids to an ``asyncio.Event`` shared by
every request waiting on that job. It is woken three ways:

- directly, when this process ends the job (``service.transitions.move``);
- by PostgreSQL ``NOTIFY gateway_job_ended`` when another replica ends it (``JobEndListener``);
- by a cheap periodic check, one batched query for all waited-on ids, as the fallback when a
  notification was missed (the listener reconnecting) and on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gateway.service.hangups import finish_anyway

if TYPE_CHECKING:
    from gateway.service.ports import JobRows
    from gateway.store.records import JobRecord

CHECK_BATCH = 500  # ids per query of the periodic check


class JobWaiters:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._counts: dict[str, int] = {}

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """Register interest in ``job_id`` for the duration of the block: the event is set when
        the job ends. Register first, then re-read the job, so no end falls in between."""
        event = self._events.setdefault(job_id, asyncio.Event())
        self._counts[job_id] = self._counts.get(job_id, 0) + 1
        try:
            yield event
        finally:
            self._counts[job_id] -= 1
            if self._counts[job_id] == 0:
                del self._counts[job_id]
                del self._events[job_id]

    def job_ended(self, job_id: str) -> None:
        event = self._events.get(job_id)
        if event is not None:
            event.set()

    def release_all(self) -> None:
        """Shutting down: every waiting request answers now with what it has."""
        for event in self._events.values():
            event.set()

    @property
    def waiting(self) -> list[str]:
        return list(self._events)

    async def check(self, jobs: JobRows) -> int:
        """Wake the waiters of every waited-on job that has ended; returns how many jobs."""
        ids = self.waiting
        woken = 0
        for start in range(0, len(ids), CHECK_BATCH):
            for job_id in await jobs.ended_among(ids[start : start + CHECK_BATCH]):
                self.job_ended(job_id)
                woken += 1
        return woken

    async def run_checks(self, jobs: JobRows, interval_s: float) -> None:
        """The periodic fallback: runs until cancelled; a query only when someone waits."""
        while True:
            await asyncio.sleep(interval_s)
            if self._events:
                try:
                    await self.check(jobs)
                except Exception:  # noqa: S112 (the database hiccuped: the next round retries)
                    continue


async def hold_until_ended(
    waiters: JobWaiters, jobs: JobRows, job: JobRecord, deadline: float
) -> JobRecord:
    """The job once it has ended, or as it is at ``deadline`` (on the event loop's clock):
    whichever comes first. A deadline already past answers at once, with the job as it is."""
    if job.status.is_terminal or deadline <= asyncio.get_running_loop().time():
        return job
    with waiters.watch(job.id) as ended:
        # Registered first, then read again: an end between the two is not missed.
        current = await finish_anyway(functools.partial(jobs.get_job, job.id)) or job
        if current.status.is_terminal:
            return current
        try:
            async with asyncio.timeout_at(deadline):
                await ended.wait()
        except TimeoutError:
            return current  # the time is up: no further read to hold the answer up
        return await finish_anyway(functools.partial(jobs.get_job, job.id)) or current
