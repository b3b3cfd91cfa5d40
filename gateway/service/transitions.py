"""Moving a claimed job to its next state, with the webhook events that state calls for.

Every change here is a fenced write: it lands only while this worker still holds the job's
lease. A change of status, or one that makes history, is written alone (``JobStore.update_job``)
with its events (one per destination, see ``gateway.service.destinations``) and history rows in
the same transaction. A change of nothing but counters and the next due time (most polls) goes
through ``Store.job_writes``, which commits the writes of concurrent tasks together.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from gateway.domain.history import JobEventKind, kinds_for_change
from gateway.domain.jobs import ErrorCode, JobStatus, transition
from gateway.service.destinations import deliveries_for, destinations_for
from gateway.service.runtime import Runtime
from gateway.store.history import NewJobEvent
from gateway.store.records import JobChange, JobRecord, NewDelivery


async def move(
    rt: Runtime,
    job: JobRecord,
    token: str,
    status: JobStatus,
    change: JobChange,
    *,
    now: float,
    release: bool = True,
) -> bool:
    """Write ``status`` and ``change``; add the events this status calls for.

    The move is checked against the state machine first (``gateway.domain.jobs.transition``);
    this is the only place a job's status is written after intake. Returns False when the lease
    was lost (the write was refused): the caller stops there.
    """
    transition(job.status, status)
    change = change.merged(status=status)
    if status.is_terminal:
        finished_at = change.finished_at if change.finished_at is not UNSET else now
        change = change.merged(finished_at=finished_at, next_run_at=None)
    updated = change.applied_to(job)
    events: list[NewDelivery] = []
    entering = status != job.status
    if entering:
        destinations = await destinations_for(rt, job, status)
        if destinations:
            events = deliveries_for(updated, status, destinations, now)
    history = history_of_change(job, updated)
    if entering or history:
        landed = await rt.store.jobs.update_job(
            job.id, token, change, now=now, release=release, new_deliveries=events, history=history
        )
    else:
        # The common poll ("still generating"): counters and the next due time only, committed
        # with the other workers' such writes in one transaction, each still fenced.
        landed = await rt.store.job_writes.update(job.id, token, change, now=now, release=release)
    if not landed:
        rt.metrics.fenced_writes_refused.inc()
        rt.log.warning("lease_lost", status=str(status))
    elif entering and status.is_terminal:
        rt.job_waiters.job_ended(job.id)  # this process's Prefer: wait requests, at once
        rt.metrics.jobs_finished.labels(status=status.value).inc()
        rt.log.info(
            "job_finished",
            status=status.value,
            error_code=(updated.error or {}).get("code"),
        )
    return landed


def history_of_change(job: JobRecord, updated: JobRecord) -> list[NewJobEvent]:
    """The history rows for a change of ``job`` into ``updated`` (none for a poll that changed
    nothing), each with the details a reader needs."""
    kinds = kinds_for_change(
        status_before=job.status,
        status_after=updated.status,
        upstream_before=job.upstream_status,
        upstream_after=updated.upstream_status,
        generation_id_after=updated.generation_id,
    )
    return [NewJobEvent(kind, _details(kind, job, updated)) for kind in kinds]


def _details(kind: JobEventKind, job: JobRecord, updated: JobRecord) -> dict[str, Any]:
    if kind == JobEventKind.SUBMITTING:
        return {"attempt": updated.submit_attempts}
    if kind == JobEventKind.SUBMISSION_RETRY:
        return {"next_run_at": updated.next_run_at}
    if kind == JobEventKind.SUBMITTED:
        return {"generation_id": updated.generation_id}
    if kind == JobEventKind.UPSTREAM_STATUS:
        return {"previous": job.upstream_status}
    if kind == JobEventKind.COMPLETED:
        details: dict[str, Any] = {
            "generation_id": updated.generation_id,
            "video_url": updated.video_url,
        }
        if updated.output_kept is not None:
            details["kept"] = updated.output_kept
            details["not_kept_reason"] = updated.output_not_kept_reason
        return details
    if kind == JobEventKind.FAILED:
        error = updated.error or {}
        return {"error": {"code": error.get("code"), "message": error.get("message")}}
    return {}


async def fail(
    rt: Runtime,
    job: JobRecord,
    token: str,
    code: ErrorCode,
    message: str,
    *,
    now: float,
    upstream: dict[str, Any] | None = None,
    change: JobChange | None = None,
) -> bool:
    error = {"code": code.value, "message": message, "upstream": upstream}
    change = (change or JobChange()).merged(error=error)
    return await move(rt, job, token, JobStatus.FAILED, change, now=now)
