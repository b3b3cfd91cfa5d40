"""The job as callers see it: in ``GET /v1/jobs/{id}`` and as the ``data`` of every webhook."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.clock import iso
from gateway.domain.events import strip_inline_media
from gateway.domain.polling import DurationEstimate
from gateway.store.records import AttemptRecord, DeliveryRecord, JobRecord


class JobErrorView(msgspec.Struct, frozen=True):
    code: str
    message: str
    upstream: dict[str, Any] | None = None


class DeliveryView(msgspec.Struct, frozen=True):
    event_id: str
    event_type: str
    state: str  # pending | delivered | dead | gone
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    created_at: str | None


class JobView(msgspec.Struct, frozen=True):
    id: str
    status: str
    model: str
    created_at: str | None
    updated_at: str | None
    request: dict[str, Any]
    metadata: dict[str, str]
    events: list[str]
    callback_url: str | None = None
    generation_id: str | None = None
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    error: JobErrorView | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    deadline_at: str | None = None
    delivery: DeliveryView | None = None  # the newest webhook event's state (GET only)
    # How long generations of this kind (model, resolution, duration) have taken on average,
    # submission to end, as the poll policy learned it; None before any finished (GET only).
    expected_duration_s: float | None = None


class AttemptView(msgspec.Struct, frozen=True):
    event_id: str
    attempt: int
    attempted_at: str | None
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None


def delivery_view(delivery: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        event_id=delivery.id,
        event_type=delivery.event_type,
        state=delivery.state,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=iso(delivery.next_run_at) if delivery.state == "pending" else None,
        delivered_at=iso(delivery.delivered_at),
        created_at=iso(delivery.created_at),
    )


def attempt_view(attempt: AttemptRecord) -> AttemptView:
    return AttemptView(
        event_id=attempt.delivery_id,
        attempt=attempt.attempt,
        attempted_at=iso(attempt.attempted_at),
        status_code=attempt.status_code,
        latency_ms=round(attempt.latency_ms, 3),
        error=attempt.error,
        response_excerpt=attempt.response_excerpt,
    )


def job_view(
    job: JobRecord,
    *,
    deliveries: list[DeliveryRecord] | None = None,
    now: float | None = None,
    expected: DurationEstimate | None = None,
) -> JobView:
    """The public view of a job; ``deliveries`` (oldest first) adds the newest one's state,
    ``expected`` the learned duration of its kind."""
    error = None
    if job.error is not None:
        error = JobErrorView(
            code=str(job.error.get("code", "")),
            message=str(job.error.get("message", "")),
            upstream=job.error.get("upstream"),
        )
    return JobView(
        id=job.id,
        status=str(job.status),
        model=job.model,
        created_at=iso(job.created_at),
        updated_at=iso(now if now is not None else job.updated_at),
        request=strip_inline_media(job.request),
        metadata=job.metadata,
        events=job.events,
        callback_url=job.callback_url,
        generation_id=job.generation_id,
        video_url=job.video_url,
        usage=job.usage,
        error=error,
        submitted_at=iso(job.submitted_at),
        finished_at=iso(job.finished_at),
        deadline_at=iso(job.deadline_at),
        delivery=delivery_view(deliveries[-1]) if deliveries else None,
        expected_duration_s=round(expected.mean_s, 1) if expected and expected.count else None,
    )
