"""Jobs as the JSON API and the console use them: accept, find, page, view, follow, resend.

One service object per process (built by the composition root, ``gateway.app``), handed to
handlers by dependency injection. It answers in views (``gateway.service.views``), never in
store records, so both surfaces show a job alike; a job of another client is a 404 exactly
like an unknown id. Work made due now (a new job, a redelivery, a replay) wakes this replica's
worker through ``wake`` (a no-op on an API-only replica).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from gateway.domain.jobs import IN_FLIGHT
from gateway.domain.model_rules import Rulebook
from gateway.errors import NotFound
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.service.event_stream import BATCH as STREAM_BATCH
from gateway.service.event_stream import Frame, job_event_frames
from gateway.service.intake import Accepted, accept_job
from gateway.service.redelivery import redeliver_job, replay_dead
from gateway.service.retention import removes_at, retention_policy
from gateway.service.runtime import Runtime
from gateway.service.timeline import TimelineEntry, job_timeline
from gateway.service.views import (
    AttemptView,
    DeliveryView,
    JobView,
    attempt_view,
    delivery_view,
    job_view,
)
from gateway.service.waiting import hold_until_ended
from gateway.store.browse import JobFilter
from gateway.store.history import JobEventRecord
from gateway.store.records import ClientRecord, DeliveryRecord, JobRecord

Wake = Callable[[], None]


class JobPage(msgspec.Struct, frozen=True):
    data: list[JobView]
    next_cursor: str | None = None


class DeliveryLog(msgspec.Struct, frozen=True):
    events: list[DeliveryView]
    attempts: list[AttemptView]


class DeadLetter(msgspec.Struct, frozen=True):
    """A delivery that ran out of attempts, with where it was going (the console's list)."""

    job_id: str
    client_id: str
    url: str
    created_at: float
    delivery: DeliveryView


class JobPageView(msgspec.Struct, frozen=True):
    """A job's page in the console: the job, its life so far, its webhook events."""

    job: JobView
    timeline: list[TimelineEntry]
    deliveries: list[DeliveryView]
    live: bool  # still running, or a webhook still pending


class Jobs:
    def __init__(self, rt: Runtime, *, wake: Wake) -> None:
        self._rt = rt
        self._wake = wake
        self._retention = retention_policy(rt.settings)

    @property
    def rulebook(self) -> Rulebook:
        """Every model's rules (forms are read by the chosen model's declared types)."""
        return self._rt.rulebook

    @property
    def wait_cap_s(self) -> float:
        """The longest a request may be held for its job (``GATEWAY_PREFER_WAIT_MAX_S``)."""
        return self._rt.settings.prefer_wait_max_s

    # --- accepting and finding --------------------------------------------------------

    async def accept(
        self,
        client: ClientRecord,
        body: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        traceparent: str | None = None,
    ) -> Accepted:
        """Intake for every surface (``/v1/jobs``, the drop-in ``/v2``): committed on return."""
        accepted = await accept_job(
            self._rt, client, body, idempotency_key=idempotency_key, traceparent=traceparent
        )
        if not accepted.replayed:
            self._wake()
        return accepted

    async def owned(self, job_id: str, *, client_id: str | None) -> JobRecord:
        """The job, if ``client_id`` may see it (None: the operator sees every job); else 404."""
        job = await self._rt.store.jobs.get_job(job_id, client_id=client_id)
        if job is None:
            raise NotFound(f"No job {job_id!r}")
        return job

    async def held(self, job: JobRecord, *, deadline: float) -> JobRecord:
        """``Prefer: wait``: the job once it has ended, or as it is at ``deadline`` (on the
        event loop's clock: the request's arrival plus the wait)."""
        rt = self._rt
        return await hold_until_ended(rt.job_waiters, rt.store.jobs, job, deadline)

    # --- views --------------------------------------------------------------------------

    async def view(self, job: JobRecord, *, expected: bool = True) -> JobView:
        """The job with its newest webhook event's state (and the learned duration)."""
        rt = self._rt
        deliveries = await rt.store.deliveries.for_job(job.id)
        estimate = rt.durations.expected(job.model, job.resolution, job.duration)
        return job_view(
            job,
            deliveries=deliveries,
            expected=estimate if expected else None,
            removes_at=removes_at(self._retention, job, deliveries),
        )

    async def page(
        self, *, client_id: str, status: str | None, limit: int, cursor: str | None
    ) -> JobPage:
        """A client's jobs, newest first, ``limit`` at a time."""
        before = decode_cursor(cursor) if cursor else None
        jobs = await self._rt.store.jobs.list_jobs(
            client_id=client_id, status=status, limit=limit + 1, before=before
        )
        return JobPage(data=[job_view(job) for job in jobs[:limit]], next_cursor=_next(jobs, limit))

    async def search(self, where: JobFilter, *, limit: int, cursor: str | None) -> JobPage:
        """The console's list: filtered by client, status, model, and an id or metadata value."""
        before = decode_cursor(cursor, field="before") if cursor else None
        jobs = await self._rt.store.browse.search_jobs(where, limit=limit + 1, before=before)
        return JobPage(data=[job_view(job) for job in jobs[:limit]], next_cursor=_next(jobs, limit))

    async def models_seen(self, *, client_id: str | None) -> list[str]:
        """The models a client's jobs used (every client's: None), for the list's filter."""
        counts = await self._rt.store.browse.model_counts(client_id=client_id)
        return sorted({count.model for count in counts})

    async def delivery_log(self, job: JobRecord) -> DeliveryLog:
        store = self._rt.store
        events = await store.deliveries.for_job(job.id)
        attempts = await store.deliveries.attempts_for_job(job.id)
        return DeliveryLog(
            events=[delivery_view(d) for d in events],
            attempts=[attempt_view(a) for a in attempts],
        )

    async def page_view(self, job: JobRecord) -> JobPageView:
        store = self._rt.store
        deliveries = await store.deliveries.for_job(job.id)
        return JobPageView(
            job=job_view(
                job, deliveries=deliveries, removes_at=removes_at(self._retention, job, deliveries)
            ),
            timeline=await job_timeline(store, job),
            deliveries=[delivery_view(d) for d in deliveries],
            live=job.status in IN_FLIGHT or any(d.state == "pending" for d in deliveries),
        )

    def events(self, job: JobRecord, *, after_id: int) -> AsyncIterator[Frame]:
        """The job's history as stream frames after ``after_id``, live until it has ended."""
        rt = self._rt
        return job_event_frames(
            job.id,
            after_id=after_id,
            fetch=functools.partial(_history_after, rt, job.id),
            has_ended=functools.partial(_has_ended, rt, job.id),
            waiters=rt.job_waiters,
            poll_s=rt.settings.event_stream_poll_s,
        )

    # --- sending webhooks again ---------------------------------------------------------

    async def redeliver(self, job: JobRecord) -> list[DeliveryView]:
        events = await redeliver_job(self._rt, job)
        self._wake()
        return [delivery_view(d) for d in events]

    async def replay(self, *, client_id: str | None, since: float, until: float | None) -> int:
        """Every dead delivery created in [since, until) due again (until: None is now)."""
        end = self._rt.clock() + 1 if until is None else until
        count = await replay_dead(self._rt, client_id=client_id, since=since, until=end)
        if count:
            self._wake()
        return count

    async def dead_letters(self, *, client_id: str | None, limit: int) -> list[DeadLetter]:
        dead = await self._rt.store.browse.dead_deliveries(client_id=client_id, limit=limit)
        return [_dead_letter(d) for d in dead]

    async def count_dead(self, *, client_id: str | None, since: float, until: float) -> int:
        browse = self._rt.store.browse
        return await browse.count_dead(client_id=client_id, since=since, until=until)


def _next(rows: list[JobRecord], limit: int) -> str | None:
    """The cursor of the next page, when the query found one more row than the page holds."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last.created_at, last.id)


def _dead_letter(delivery: DeliveryRecord) -> DeadLetter:
    return DeadLetter(
        job_id=delivery.job_id,
        client_id=delivery.client_id,
        url=delivery.url,
        created_at=delivery.created_at,
        delivery=delivery_view(delivery),
    )


async def _history_after(rt: Runtime, job_id: str, after_id: int) -> list[JobEventRecord]:
    return await rt.store.history.list_for_job(job_id, after_id=after_id, limit=STREAM_BATCH)


async def _has_ended(rt: Runtime, job_id: str) -> bool:
    job = await rt.store.jobs.get_job(job_id)
    return job is None or job.status.is_terminal
