"""Moving a claimed job to its next state, with the webhook events that state calls for.

Every change here is a fenced write (``JobStore.update_job``): it lands only while this worker
still holds the job's lease, and its events (one per destination, see
``gateway.service.destinations``) are stored in the same transaction as the status.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.domain.history import JobEventKind, kinds_for_change
from gateway.domain.jobs import ErrorCode, JobStatus, transition
from gateway.service.destinations import deliveries_for, destinations_for
from gateway.service.runtime import Runtime
from gateway.store.history import NewJobEvent
from gateway.store.records import JobRecord, NewDelivery


async def move(
    rt: Runtime,
    job: JobRecord,
    token: str,
    status: JobStatus,
    values: dict[str, Any],
    *,
    now: float,
    release: bool = True,
) -> bool:
    """Write ``status`` and ``values``; add the event if the caller asked for this status.

    Returns False when the lease was lost (the write was refused): the caller stops there.
    """
    transition(job.status, status)
    changes = {"status": status, **values}
    if status.is_terminal:
        changes.setdefault("finished_at", now)
        changes["next_run_at"] = None
    events: list[NewDelivery] = []
    entering = status != job.status
    if entering:
        destinations = await destinations_for(rt, job, status)
        if destinations:
            updated = msgspec.structs.replace(job, **changes)
            events = deliveries_for(updated, status, destinations, now)
    history = history_of_change(job, changes)
    landed = await rt.store.jobs.update_job(
        job.id, token, changes, now=now, release=release, new_deliveries=events, history=history
    )
    if not landed:
        rt.metrics.fenced_writes_refused.inc()
        rt.log.warning("lease_lost", job_id=job.id, status=str(status))
    elif entering and status.is_terminal:
        rt.job_waiters.job_ended(job.id)  # this process's Prefer: wait requests, at once
        rt.metrics.jobs_finished.labels(status=status.value).inc()
        rt.log.info(
            "job_finished",
            job_id=job.id,
            client_id=job.client_id,
            status=status.value,
            error_code=(values.get("error") or {}).get("code"),
        )
    return landed


def history_of_change(job: JobRecord, changes: dict[str, Any]) -> list[NewJobEvent]:
    """The history rows for writing ``changes`` to ``job`` (none for a poll that changed
    nothing), each with the details a reader needs."""
    kinds = kinds_for_change(
        status_before=job.status,
        status_after=changes.get("status", job.status),
        upstream_before=job.upstream_status,
        upstream_after=changes.get("upstream_status", job.upstream_status),
        generation_id_after=changes.get("generation_id", job.generation_id),
    )
    return [NewJobEvent(kind, _details(kind, job, changes)) for kind in kinds]


def _details(kind: JobEventKind, job: JobRecord, changes: dict[str, Any]) -> dict[str, Any]:
    if kind == JobEventKind.SUBMITTING:
        return {"attempt": changes.get("submit_attempts", job.submit_attempts)}
    if kind == JobEventKind.SUBMISSION_RETRY:
        return {"next_run_at": changes.get("next_run_at")}
    if kind == JobEventKind.SUBMITTED:
        return {"generation_id": changes["generation_id"]}
    if kind == JobEventKind.UPSTREAM_STATUS:
        return {"previous": job.upstream_status}
    if kind == JobEventKind.COMPLETED:
        return {
            "generation_id": changes.get("generation_id", job.generation_id),
            "video_url": changes.get("video_url"),
        }
    if kind == JobEventKind.FAILED:
        error = changes.get("error") or {}
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
    values: dict[str, Any] | None = None,
) -> bool:
    error = {"code": code.value, "message": message, "upstream": upstream}
    return await move(rt, job, token, JobStatus.FAILED, {**(values or {}), "error": error}, now=now)
