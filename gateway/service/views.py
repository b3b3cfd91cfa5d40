"""The job as callers see it: in ``GET /v1/jobs/{id}`` and as the ``data`` of every webhook, and
as a generation in the upstream's own words on the drop-in ``/v2/video/generations``."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from gateway.clock import iso
from gateway.domain.delivery import DeliveryState
from gateway.domain.events import EventType, strip_inline_media
from gateway.domain.generation import EventName
from gateway.domain.jobs import ErrorCode, JobStatus, upstream_status_of
from gateway.domain.polling import DurationEstimate
from gateway.store.records import AttemptRecord, DeliveryRecord, JobRecord


class JobErrorView(msgspec.Struct, frozen=True):
    code: str
    message: str
    upstream: dict[str, Any] | None = None


class DeliveryView(msgspec.Struct, frozen=True):
    event_id: str
    event_type: EventType
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    created_at: str | None


class JobView(msgspec.Struct, frozen=True):
    id: str
    status: JobStatus
    model: str
    created_at: str | None
    updated_at: str | None
    request: dict[str, Any]
    metadata: dict[str, str]
    events: list[EventName]
    callback_url: str | None = None
    body_checked: bool = True  # False: an unlisted model; only the common checks were applied
    generation_id: str | None = None
    upstream_status: str | None = None  # the upstream's own word, as last reported
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    error: JobErrorView | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    deadline_at: str | None = None
    # When the job and its records (webhook events, attempts, history) will be removed
    # (GATEWAY_JOB_RETENTION_S after it finished); None while it is unfinished or one of its
    # webhook events is still owed (GET only).
    removes_at: str | None = None
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
        event_type=cast(EventType, delivery.event_type),
        state=delivery.state,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=iso(delivery.next_run_at)
        if delivery.state == DeliveryState.PENDING
        else None,
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
    removes_at: float | None = None,
) -> JobView:
    """The public view of a job; ``deliveries`` (oldest first) adds the newest one's state,
    ``expected`` the learned duration of its kind, ``removes_at`` when its records end."""
    error = None
    if job.error is not None:
        error = JobErrorView(
            code=str(job.error.get("code", "")),
            message=str(job.error.get("message", "")),
            upstream=job.error.get("upstream"),
        )
    return JobView(
        id=job.id,
        status=JobStatus(job.status),
        model=job.model,
        created_at=iso(job.created_at),
        updated_at=iso(now if now is not None else job.updated_at),
        request=strip_inline_media(job.request),
        metadata=job.metadata,
        events=cast(list[EventName], job.events),
        callback_url=job.callback_url,
        body_checked=job.body_checked,
        generation_id=job.generation_id,
        upstream_status=job.upstream_status,
        video_url=job.video_url,
        usage=job.usage,
        error=error,
        submitted_at=iso(job.submitted_at),
        finished_at=iso(job.finished_at),
        deadline_at=iso(job.deadline_at),
        removes_at=iso(removes_at),
        delivery=delivery_view(deliveries[-1]) if deliveries else None,
        expected_duration_s=round(expected.mean_s, 1) if expected and expected.count else None,
    )


class GenerationVideo(msgspec.Struct, frozen=True):
    url: str


class GenerationError(msgspec.Struct, frozen=True, omit_defaults=True):
    """``{name, message}``; ``detail`` too when the upstream reported its failure that way."""

    name: str
    message: str
    detail: list[Any] | None = None


class GenerationMeta(msgspec.Struct, frozen=True):
    usage: dict[str, Any]  # the upstream's meta.usage: {credits_used, usd_spent}


class GenerationView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A job in the upstream's shape: ``{id, status, video?, error?, meta?}`` (absent, not null,
    when there is nothing to say, as the upstream answers)."""

    id: str
    status: str  # queued | generating | completed | error
    video: GenerationVideo | None = None
    error: GenerationError | None = None
    meta: GenerationMeta | None = None


def generation_view(job: JobRecord) -> GenerationView:
    """The job as the upstream would report its generation; the job's id is the generation id."""
    video = None
    if job.status == JobStatus.COMPLETED and job.video_url:
        video = GenerationVideo(url=job.video_url)
    return GenerationView(
        id=job.id,
        status=upstream_status_of(job.status),
        video=video,
        error=_generation_error(job.error) if job.status == JobStatus.FAILED else None,
        meta=GenerationMeta(usage=job.usage) if job.usage else None,
    )


def _generation_error(error: dict[str, Any] | None) -> GenerationError:
    """The upstream's own error when the generation itself failed (its name and message kept,
    so existing handling matches); otherwise the gateway's error code as the name."""
    error = error or {}
    code = str(error.get("code") or ErrorCode.GENERATION_FAILED)
    message = str(error.get("message") or "The generation failed.")
    upstream = error.get("upstream")
    if code == ErrorCode.GENERATION_FAILED and isinstance(upstream, dict):
        detail = upstream.get("detail")
        return GenerationError(
            name=str(upstream.get("name") or code),
            message=str(upstream.get("message") or message),
            detail=detail if isinstance(detail, list) else None,
        )
    return GenerationError(name=code, message=message)
