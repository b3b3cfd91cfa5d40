"""Group commit: the writes of many concurrent callers committed together, a transaction a batch.

A caller submits its write and awaits its own outcome. One drain task takes everything queued
(up to ``max_batch``) and commits it with one call of ``commit``; whatever arrives meanwhile goes
into the next batch. No timer: a lone write commits at once (a batch of one), and under load the
batches grow by themselves. Nothing is answered before its commit, so an answer always stands
for a committed row; if the transaction fails, every caller of that batch gets the error.

Three uses, one primitive (``Store`` builds them):

- **intake** (``intake_commit``): concurrent ``POST /v1/jobs`` share a transaction. A batch the
  database refuses as a whole (another replica committed one of its idempotency keys meanwhile,
  or one request breaks a constraint) runs again one request at a time, so only the offender
  fails. Callers are *shielded*: a request whose client went away leaves its job to the batch
  (it may be committed; a retry with its ``Idempotency-Key`` finds it). If the drain itself is
  cancelled (the loop closing), its callers hear 503 — whether it committed is unknown. After
  ``close()`` new requests are refused with a 503.
- **the worker's fenced job writes** and **webhook attempts** (``Store.job_writes``,
  ``Store.attempt_writes``): each caller learns whether its lease's fence let its write land. A
  cancelled drain cancels its callers' waits (the rows keep their leases until they expire,
  then the work is done again, as after a crash mid-write).

``close()`` lets the batches already queued commit before the engine goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.errors import StoreUnavailable
from gateway.store.jobs import FencedJobWrite, InsertOutcome, IntakeRequest, JobStore
from gateway.store.records import JobChange

MAX_BATCH = 512  # at most this many writes per transaction (one executemany per column set)

I = TypeVar("I")  # noqa: E741 (the item type, as in the typing docs' examples)
O = TypeVar("O")  # noqa: E741


@dataclass(frozen=True)
class OnFailure(Generic[I, O]):
    """What a group commit does when a batch cannot simply commit.

    ``alone``: commit one item on its own; ``retry_alone(error, batch)`` says whether a batch
    that failed with ``error`` was refused as a whole and should run again item by item.
    ``cancelled``: the error callers get when the drain is cancelled mid-commit (None: their
    waits are cancelled too). ``closed``: the error new writes get after ``close()`` (None:
    accepted as before)."""

    alone: Callable[[I], Awaitable[O]] | None = None
    retry_alone: Callable[[Exception, Sequence[I]], bool] = lambda _error, _batch: False
    cancelled: Callable[[], Exception] | None = None
    closed: Callable[[], Exception] | None = None


class GroupCommit(Generic[I, O]):
    """Queues writes of one kind and commits them together with ``commit``."""

    def __init__(
        self,
        commit: Callable[[Sequence[I]], Awaitable[Sequence[O]]],
        *,
        max_batch: int = MAX_BATCH,
        shielded: bool = False,
        on_failure: OnFailure[I, O] | None = None,
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._shielded = shielded
        self._on_failure = on_failure or OnFailure()
        self._queue: list[tuple[I, asyncio.Future[O]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._closed = False
        # Figures for profiling and tests: transactions tried, and writes they carried.
        self.batches = 0
        self.writes = 0

    async def submit(self, item: I) -> O:
        """Commit ``item`` with whatever else is queued; returns its outcome after the commit."""
        if self._closed and self._on_failure.closed is not None:
            raise self._on_failure.closed()
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_observed)
        self._queue.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        if self._shielded:
            return await asyncio.shield(future)
        return await future

    async def close(self) -> None:
        """Refuse new writes (where configured); wait until every queued one is answered."""
        self._closed = True
        drainer = self._drainer
        # (A drain of another event loop, e.g. an app served from a test's portal, has ended
        # with that loop's work; it cannot be awaited from this one.)
        if drainer is None or drainer.done():
            return
        if drainer.get_loop() is not asyncio.get_running_loop():
            return
        try:
            await asyncio.shield(drainer)
        except asyncio.CancelledError:
            if not drainer.cancelled():  # this caller was cancelled, not the drain
                raise
        except Exception:  # noqa: S110 (each caller of the batch has heard the failure)
            pass

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit_batch(batch)
        finally:
            if self._queue:  # cancelled mid-way (the loop is closing): nobody left hanging
                self._abandon(self._queue)
                self._queue.clear()

    async def _commit_batch(self, batch: list[tuple[I, asyncio.Future[O]]]) -> None:
        self.batches += 1
        items = [item for item, _ in batch]
        try:
            try:
                outcomes = await self._commit(items)
            except Exception as error:
                if self._on_failure.alone is None or not self._on_failure.retry_alone(error, items):
                    raise
                await self._one_by_one(batch, self._on_failure.alone)
                return
        except Exception as error:  # the transaction failed: nothing of the batch was stored
            for _, future in batch:
                _settle(future, error=error)
            return
        except BaseException:  # cancelled: whether it committed is unknown
            self._abandon(batch)
            raise
        self.writes += len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, result=outcome)

    async def _one_by_one(
        self, batch: list[tuple[I, asyncio.Future[O]]], alone: Callable[[I], Awaitable[O]]
    ) -> None:
        for item, future in batch:
            try:
                outcome = await alone(item)
            except Exception as error:
                _settle(future, error=error)
            else:
                self.writes += 1
                _settle(future, result=outcome)

    def _abandon(self, waiters: Sequence[tuple[I, asyncio.Future[O]]]) -> None:
        for _, future in waiters:
            if future.done():
                continue
            if self._on_failure.cancelled is None:
                future.cancel()
            else:
                future.set_exception(self._on_failure.cancelled())


def _settle(
    future: asyncio.Future[O], *, result: O | None = None, error: Exception | None = None
) -> None:
    if future.done():  # its caller went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


def _observed(future: asyncio.Future[O]) -> None:
    """Mark a failure as seen: a caller that went away no longer awaits its future."""
    if not future.cancelled():
        future.exception()


# --- the group commits the store builds --------------------------------------------------


def _refused_as_a_whole(error: Exception, batch: Sequence[IntakeRequest]) -> bool:
    """Another replica committed one of the batch's idempotency keys since the batch looked them
    up (an integrity error: nothing of the batch was stored, each request alone finds it); or
    the database refused one request of several (not an outage: those arrive as
    ``StoreUnavailable``) — alone, only that request fails."""
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, SQLAlchemyError) and len(batch) > 1


def intake_commit(
    jobs: JobStore, *, max_batch: int = MAX_BATCH
) -> GroupCommit[IntakeRequest, InsertOutcome]:
    """Intake's group commit: admit and store each batch of jobs in one transaction."""

    async def alone(request: IntakeRequest) -> InsertOutcome:
        return await jobs.insert_job(
            request.new,
            now=request.now,
            idempotency=request.idempotency,
            admission=request.admission,
        )

    return GroupCommit(
        jobs.insert_jobs,
        max_batch=max_batch,
        shielded=True,
        on_failure=OnFailure(
            alone=alone,
            retry_alone=_refused_as_a_whole,
            cancelled=StoreUnavailable,
            closed=lambda: StoreUnavailable(
                "The gateway is shutting down; retry on another replica"
            ),
        ),
    )


class JobWrites(GroupCommit[FencedJobWrite, bool]):
    """The worker's routine fenced job writes (``JobStore.update_jobs``): mostly a poll's
    "still generating" (counters and the next due time)."""

    def __init__(self, jobs: JobStore, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(jobs.update_jobs, max_batch=max_batch)

    async def update(
        self, job_id: str, token: str, change: JobChange, *, now: float, release: bool = True
    ) -> bool:
        """A fenced write (as ``JobStore.update_job`` without deliveries or history): True once
        committed, False if the fence refused it."""
        return await self.submit(FencedJobWrite(job_id, token, change, now, release))
