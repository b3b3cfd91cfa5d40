"""Polling a submitted job upstream and acting on what it reports."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.domain.jobs import (
    ErrorCode,
    JobStatus,
    deadline_message,
    status_after_report,
    status_label,
)
from gateway.domain.polling import PollContext, learning_keys
from gateway.domain.upstream import FailureKind, Generation, UpstreamFailure
from gateway.observability.tracing import job_span
from gateway.service.keeping import keeps
from gateway.service.runtime import Runtime
from gateway.service.transitions import fail, move
from gateway.store.records import JobChange, JobRecord

# How many 404s in a row mean the upstream has really forgotten the generation.
NOT_FOUND_LIMIT = 5


def _context(rt: Runtime, job: JobRecord, now: float, **changes: Any) -> PollContext:
    base = PollContext(
        submitted_at=job.submitted_at or job.created_at,
        now=now,
        polls_done=job.poll_count + 1,
        upstream_status=job.upstream_status,
        consecutive_errors=0,
        retry_after_s=None,
        deadline_at=job.deadline_at,
        expected=rt.durations.expected(job.model, job.resolution, job.duration),
    )
    return msgspec.structs.replace(base, **changes)


async def process_poll(rt: Runtime, job: JobRecord, token: str) -> None:
    now = rt.clock()
    if now >= job.deadline_at:
        await fail(
            rt,
            job,
            token,
            ErrorCode.DEADLINE_EXCEEDED,
            deadline_message(job.upstream_status),
            now=now,
        )
        return
    assert job.generation_id is not None
    started = rt.clock()
    with job_span(
        rt.tracer,
        "gateway.poll",
        job.traceparent,
        attributes={"gateway.job_id": job.id, "gateway.poll": job.poll_count + 1},
    ) as span:
        result = await rt.upstream.fetch(
            job.generation_id, request_id=f"{job.id}.poll.{job.poll_count + 1}"
        )
        span.set_attribute(
            "gateway.outcome",
            result.kind.value if isinstance(result, UpstreamFailure) else result.status,
        )
    now = rt.clock()
    rt.metrics.upstream_latency.labels(call="poll").observe(max(0.0, now - started))
    if isinstance(result, UpstreamFailure):
        rt.metrics.polls.labels(outcome=result.kind.value).inc()
        await _poll_failed(rt, job, token, result, now)
        return
    rt.metrics.polls.labels(outcome=status_label(result.status)).inc()
    await apply_generation(
        rt, job, token, result, now, extra=JobChange(poll_count=job.poll_count + 1)
    )


async def apply_generation(
    rt: Runtime,
    job: JobRecord,
    token: str,
    generation: Generation,
    now: float,
    *,
    extra: JobChange | None = None,
) -> None:
    """Move the job to what the upstream reports (after a poll, or a submit that says more)."""
    change = (extra or JobChange()).merged(
        upstream_status=generation.status, poll_errors=0, poll_not_found=0
    )
    status = status_after_report(job.status, generation.status)
    if status == JobStatus.FAILED:
        await fail(
            rt,
            job,
            token,
            ErrorCode.GENERATION_FAILED,
            _generation_error_message(generation.error),
            now=now,
            upstream=generation.error,
            change=change,
        )
        return
    if status == JobStatus.COMPLETED:
        change = change.merged(video_url=generation.video_url, usage=generation.usage, ready_at=now)
        if keeps(rt, job, generation.video_url):
            # The video is copied first (``gateway.service.keeping``), due at once; the job
            # completes, and its event is made due, when the copy is published or given up.
            status = JobStatus.KEEPING
            change = change.merged(next_run_at=now, keep_started_at=now, keep_attempts=0)
        if await move(rt, job, token, status, change, now=now):
            await _learn(rt, job, now)
        return
    context = _context(rt, job, now, upstream_status=generation.status)
    change = change.merged(next_run_at=rt.poll_policy.next_poll_at(context))
    await move(rt, job, token, status, change, now=now)


async def _poll_failed(
    rt: Runtime, job: JobRecord, token: str, failure: UpstreamFailure, now: float
) -> None:
    errors = job.poll_errors + 1
    # 404s are counted on their own: timeouts and 5xx in between neither add to nor reset them.
    not_found = (
        job.poll_not_found + 1 if failure.kind == FailureKind.NOT_FOUND else job.poll_not_found
    )
    rt.log.warning(
        "poll_failed",
        kind=failure.kind.value,
        status_code=failure.status_code,
        consecutive=errors,
    )
    if failure.kind == FailureKind.NOT_FOUND and not_found >= NOT_FOUND_LIMIT:
        await fail(
            rt,
            job,
            token,
            ErrorCode.GENERATION_NOT_FOUND,
            f"The upstream no longer knows generation {job.generation_id} "
            f"({not_found} answers of 404 without an answer in between).",
            now=now,
            upstream=failure.error,
        )
        return
    context = _context(rt, job, now, consecutive_errors=errors, retry_after_s=failure.retry_after_s)
    change = JobChange(
        poll_count=job.poll_count + 1,
        poll_errors=errors,
        poll_not_found=not_found,
        next_run_at=rt.poll_policy.next_poll_at(context),
    )
    await move(rt, job, token, job.status, change, now=now)


async def _learn(rt: Runtime, job: JobRecord, now: float) -> None:
    """Teach the adaptive poll policy how long this kind of generation took."""
    if job.submitted_at is None:
        return
    seconds = max(0.0, now - job.submitted_at)
    for key in learning_keys(job.model, job.resolution, job.duration):
        await rt.store.counters.record_duration(key, seconds, now=now)
        current = rt.durations.stats.get(key)
        if current is not None:
            rt.durations.stats[key] = current.add(seconds)


def _generation_error_message(error: dict[str, Any] | None) -> str:
    if not error:
        return "The upstream reported that the generation failed."
    if "message" in error:
        return f"The upstream reported that the generation failed: {error['message']}"
    if "detail" in error and isinstance(error["detail"], list) and error["detail"]:
        first = error["detail"][0]
        msg = first.get("msg") if isinstance(first, dict) else str(first)
        return f"The upstream reported that the generation failed: {msg}"
    return "The upstream reported that the generation failed."
