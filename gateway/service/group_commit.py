"""Group commit for intake: concurrent ``POST /v1/jobs`` requests share one transaction.

A request enqueues its job and awaits a future. One writer task takes everything queued (up to
``max_batch``) and admits and stores it in one transaction (``JobStore.insert_jobs``); only after
that commit is each future resolved with its request's outcome, so a 202 always stands for a
committed row. If the transaction fails, every request of the batch gets the error (a 503 for an
outage): nothing is acknowledged that was not committed.

No timer: the writer starts as soon as there is work, so a lone request waits for nothing but its
own commit; while a batch commits, the next one gathers, and the writer ends when the queue is
empty. ``close()`` (the app's shutdown, before the engine is closed) refuses new requests with a
503 and waits for the batches already queued to commit and be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.errors import StoreUnavailable
from gateway.store.jobs import InsertOutcome, IntakeRequest, JobStore

MAX_BATCH = 512

_Waiter = tuple[IntakeRequest, "asyncio.Future[InsertOutcome]"]


class GroupCommit:
    def __init__(self, jobs: JobStore, *, max_batch: int = MAX_BATCH) -> None:
        self._jobs = jobs
        self._max_batch = max_batch
        self._queue: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # how many transactions it has committed or tried (for tests, metrics)

    async def insert(self, request: IntakeRequest) -> InsertOutcome:
        """Admit and store one job with whatever else is queued; returns after the commit."""
        if self._closed:
            raise StoreUnavailable("The gateway is shutting down; retry on another replica")
        future: asyncio.Future[InsertOutcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_observed)
        self._queue.append((request, future))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._drain())
        # Shielded: a request whose client went away leaves its job to the batch (it may be
        # committed; the client's retry with its Idempotency-Key finds it).
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Refuse new jobs; wait until every queued one is committed (or failed) and answered."""
        self._closed = True
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(writer)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)
        finally:
            self._writer = None
            if self._queue:  # cancelled mid-way (the loop is closing): nobody left hanging
                _fail(self._queue, StoreUnavailable())
                self._queue.clear()

    async def _commit(self, batch: Sequence[_Waiter]) -> None:
        self.batches += 1
        try:
            try:
                outcomes = await self._jobs.insert_jobs([request for request, _ in batch])
            except IntegrityError:
                # Another replica committed one of the batch's idempotency keys since the batch
                # looked them up; nothing of the batch was stored. Each request alone finds it.
                await self._one_by_one(batch)
                return
            except SQLAlchemyError:
                # Not an outage (those arrive as StoreUnavailable) but one request the database
                # refused: nothing was stored; alone, only that request fails.
                if len(batch) == 1:
                    raise
                await self._one_by_one(batch)
                return
        except Exception as exc:  # the transaction failed: nothing of the batch was stored
            _fail(batch, exc)
            return
        except BaseException:  # cancelled: whether it committed is unknown; say unavailable
            _fail(batch, StoreUnavailable())
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _one_by_one(self, batch: Sequence[_Waiter]) -> None:
        for request, future in batch:
            try:
                outcome = await self._jobs.insert_job(
                    request.new,
                    now=request.now,
                    idempotency=request.idempotency,
                    admission=request.admission,
                )
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(outcome)


def _fail(waiters: Sequence[_Waiter], exc: Exception) -> None:
    for _, future in waiters:
        if not future.done():
            future.set_exception(exc)


def _observed(future: asyncio.Future[InsertOutcome]) -> None:
    """Mark a failure as seen: a request that went away no longer awaits its future."""
    if not future.cancelled():
        future.exception()
