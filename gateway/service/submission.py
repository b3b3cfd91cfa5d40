"""Submitting a claimed job upstream: at most once, unless the operator opts in.

The job is marked ``submitting`` (a committed, fenced write) before the POST leaves. Finding a
job still ``submitting`` later means the previous attempt's outcome is unknown (the process died,
or the lease ran out mid-call): the generation may exist and cost money, so by default the job
fails with ``submission_outcome_unknown`` instead of paying twice.
"""

from __future__ import annotations

import msgspec

from gateway.domain.jobs import UPSTREAM_STATUS_TO_JOB, ErrorCode, JobStatus, deadline_message
from gateway.domain.polling import PollContext
from gateway.domain.retry import SubmissionBackoff
from gateway.domain.upstream import FailureKind, Generation, UpstreamFailure, UpstreamResult
from gateway.observability.tracing import job_span
from gateway.service.polling import apply_generation
from gateway.service.runtime import Runtime
from gateway.service.transitions import fail, move
from gateway.store.records import JobChange, JobRecord

UNKNOWN_MESSAGE = (
    "The upstream may or may not have started this generation (the gateway lost track of the "
    "submission: {why}). It was not submitted again, so it is never paid for twice; "
    "submit a new job if you still want the video."
)


async def process_submission(rt: Runtime, job: JobRecord, token: str) -> None:
    now = rt.clock()
    settings = rt.settings
    if job.status == JobStatus.SUBMITTING and not settings.resubmit_unknown:
        await fail(
            rt,
            job,
            token,
            ErrorCode.SUBMISSION_OUTCOME_UNKNOWN,
            UNKNOWN_MESSAGE.format(why="the gateway stopped while the request was in flight"),
            now=now,
        )
        rt.metrics.submissions.labels(outcome=FailureKind.UNKNOWN.value).inc()
        return
    if now >= job.deadline_at:
        message = deadline_message(job.upstream_status)
        await fail(rt, job, token, ErrorCode.DEADLINE_EXCEEDED, message, now=now)
        return

    attempt = job.submit_attempts + 1
    marked = JobChange(submit_attempts=attempt)
    if not await move(rt, job, token, JobStatus.SUBMITTING, marked, now=now, release=False):
        return
    job = msgspec.structs.replace(job, status=JobStatus.SUBMITTING, submit_attempts=attempt)

    body = msgspec.json.encode(job.request)
    started = rt.clock()
    with job_span(
        rt.tracer,
        "gateway.submit",
        job.traceparent,
        attributes={"gateway.job_id": job.id, "gateway.attempt": attempt},
    ) as span:
        result = await rt.upstream.submit(body, request_id=f"{job.id}.submit.{attempt}")
        span.set_attribute("gateway.outcome", _outcome(result))
    now = rt.clock()
    rt.metrics.upstream_latency.labels(call="submit").observe(max(0.0, now - started))

    if isinstance(result, Generation):
        rt.metrics.submissions.labels(outcome="accepted").inc()
        rt.log.info(
            "job_submitted",
            attempt=attempt,
            generation_id=result.id,
        )
        await _submitted(rt, job, token, result, now)
        return
    rt.metrics.submissions.labels(outcome=result.kind.value).inc()
    rt.log.warning(
        "submission_failed",
        attempt=attempt,
        kind=result.kind.value,
        status_code=result.status_code,
    )
    await _refused(rt, job, token, result, attempt, now)


def _outcome(result: UpstreamResult) -> str:
    return result.status if isinstance(result, Generation) else result.kind.value


async def _submitted(
    rt: Runtime, job: JobRecord, token: str, generation: Generation, now: float
) -> None:
    status = UPSTREAM_STATUS_TO_JOB.get(generation.status, JobStatus.QUEUED)
    job = msgspec.structs.replace(job, generation_id=generation.id, submitted_at=now)
    change = JobChange(generation_id=generation.id, submitted_at=now)
    if status.is_terminal:
        await apply_generation(rt, job, token, generation, now, extra=change)
        return
    context = PollContext(
        submitted_at=now,
        now=now,
        polls_done=0,
        upstream_status=generation.status,
        consecutive_errors=0,
        retry_after_s=None,
        deadline_at=job.deadline_at,
        expected=rt.durations.expected(job.model, job.resolution, job.duration),
    )
    change = change.merged(
        upstream_status=generation.status, next_run_at=rt.poll_policy.next_poll_at(context)
    )
    await move(rt, job, token, status, change, now=now)


async def _refused(
    rt: Runtime, job: JobRecord, token: str, failure: UpstreamFailure, attempt: int, now: float
) -> None:
    upstream = failure.error or {"status": failure.status_code, "message": failure.message}
    settings = rt.settings
    retry = failure.kind == FailureKind.RETRYABLE or (
        failure.kind == FailureKind.UNKNOWN and settings.resubmit_unknown
    )
    if failure.kind in (FailureKind.REJECTED, FailureKind.NOT_FOUND):
        await fail(
            rt,
            job,
            token,
            ErrorCode.UPSTREAM_REJECTED,
            f"The upstream refused the generation: {failure.message}",
            now=now,
            upstream=upstream,
        )
        return
    if not retry:
        why = (
            f"{failure.message} (HTTP {failure.status_code})"
            if failure.status_code
            else failure.message
        )
        await fail(
            rt,
            job,
            token,
            ErrorCode.SUBMISSION_OUTCOME_UNKNOWN,
            UNKNOWN_MESSAGE.format(why=why),
            now=now,
            upstream=upstream,
        )
        return
    if attempt >= settings.submit_max_attempts:
        await fail(
            rt,
            job,
            token,
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"The upstream refused {attempt} submissions in a row; last: {failure.message}",
            now=now,
            upstream=upstream,
        )
        return
    next_at = SubmissionBackoff().next_at(
        attempt,
        now=now,
        rng=rt.rng(),
        retry_after_s=failure.retry_after_s,
        deadline_at=job.deadline_at,
    )
    await move(rt, job, token, JobStatus.ACCEPTED, JobChange(next_run_at=next_at), now=now)
