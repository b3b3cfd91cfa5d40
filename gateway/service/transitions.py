"""Moving a claimed job to its next state, with the webhook event that state calls for.

Every change here is a fenced write (``JobStore.update_job``): it lands only while this worker
still holds the job's lease, and the event is stored in the same transaction as the status.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from gateway.clock import iso
from gateway.domain.events import event_body, event_type_for, new_event_id
from gateway.domain.history import JobEventKind, kinds_for_change
from gateway.domain.jobs import ErrorCode, JobStatus, transition
from gateway.service.runtime import Runtime
from gateway.service.views import job_view
from gateway.store.history import NewJobEvent
from gateway.store.records import JobRecord, NewDelivery


def wants_event(job: JobRecord, status: JobStatus) -> bool:
    return job.callback_url is not None and status.value in job.events


def build_event(rt: Runtime, job: JobRecord, status: JobStatus, now: float) -> NewDelivery:
    """The event for ``job`` (already carrying its new values) entering ``status``."""
    data = msgspec.to_builtins(job_view(job, now=now))
    data.pop("delivery", None)  # a webhook does not describe its own delivery
    event_type = event_type_for(status)
    assert job.callback_url is not None
    return NewDelivery(
        id=new_event_id(secrets.token_bytes(16)),
        job_id=job.id,
        client_id=job.client_id,
        event_type=event_type,
        url=job.callback_url,
        payload=event_body(event_type, iso(now) or "", data),
    )


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
    if entering and wants_event(job, status):
        updated = msgspec.structs.replace(job, **changes)
        events.append(build_event(rt, updated, status, now))
    history = history_of_change(job, changes)
    landed = await rt.store.jobs.update_job(
        job.id, token, changes, now=now, release=release, new_deliveries=events, history=history
    )
    if not landed:
        rt.metrics.fenced_writes_refused.inc()
        rt.log.warning("lease_lost", job_id=job.id, status=str(status))
    elif entering and status.is_terminal:
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
