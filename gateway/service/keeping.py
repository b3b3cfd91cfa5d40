"""The ``keeping`` step of a job: copy its finished video into the output store, then complete.

A job whose generation completed enters ``keeping`` (``gateway.service.polling``) due at once;
the worker claims it like a poll (a lease, a fencing token, renewed while the copy runs, taken
over by another replica when this one dies) and runs :func:`process_keep`, which holds one of
the copier's slots for the copy. Then, in one fenced write:

- the copy was published → ``completed`` with the kept video's facts and its stable signed link
  (valid until the client's retention ends); the completion event is made due with them;
- it failed and a retry can help (``gateway.domain.outputs.decide_copy_retry``) → still
  ``keeping``, due again after the backoff;
- it failed for good (a dead link, too big, not a video, or retries ran out before the upstream
  link's own expiry) → ``completed`` with ``kept: false`` and the reason: the completion event is
  never withheld.

The job's deadline does not apply here: a long copy never fails a paid job. A copy cut off (a
crash, a lost lease) leaves no object under the final key; the next holder copies again from
the start and publishes to the same key.
"""

from __future__ import annotations

from gateway.domain.jobs import JobStatus
from gateway.domain.outputs import decide_copy_retry
from gateway.outputs import KeepFailure, KeptVideo
from gateway.service.kept_outputs import KeptOutputs
from gateway.service.runtime import Runtime
from gateway.service.transitions import move
from gateway.store.records import JobChange, JobRecord


def keeps(rt: Runtime, job: JobRecord, video_url: str | None) -> bool:
    """Whether ``job``, completed with ``video_url``, gets its video kept before it completes:
    keeping is on (``GATEWAY_OUTPUTS=keep``), the job did not opt out, there is a link."""
    return rt.outputs is not None and job.keep_output and bool(video_url)


async def process_keep(rt: Runtime, job: JobRecord, token: str) -> None:
    outputs = rt.outputs
    if outputs is None or not job.video_url:
        # Keeping was switched off (GATEWAY_OUTPUTS=link) while this job waited: complete it.
        await move(rt, job, token, JobStatus.COMPLETED, JobChange(), now=rt.clock())
        return
    started = job.keep_started_at or rt.clock()
    attempt = job.keep_attempts + 1
    result = await outputs.copier.copy_video(job.video_url, job_id=job.id)
    now = rt.clock()
    if isinstance(result, KeptVideo):
        change = await _kept(rt, outputs, job, result, now)
        rt.metrics.output_copies.labels(outcome="kept", reason="").inc()
        rt.metrics.output_bytes_kept.inc(result.bytes)
        rt.log.info("output_kept", bytes=result.bytes, attempt=attempt)
        change = change.merged(keep_attempts=attempt)
        await move(rt, job, token, JobStatus.COMPLETED, change, now=now)
        return
    decision = decide_copy_retry(
        outputs.policy,
        result.reason,
        attempt=attempt,
        first_attempt_at=started,
        now=now,
        link_expires_at=result.link_expires_at,
        retry_after_s=result.retry_after_s,
        rng=rt.rng(),
    )
    rt.log.warning(
        "output_copy_failed",
        reason=result.reason.value,
        attempt=attempt,
        decision=decision.kind,
        note=decision.reason,
    )
    if decision.kind == "retry" and decision.next_at is not None:
        rt.metrics.output_copies.labels(outcome="retry", reason=result.reason.value).inc()
        change = JobChange(
            keep_attempts=attempt,
            keep_started_at=started,
            next_run_at=decision.next_at,
            output_note=result.message,
        )
        await move(rt, job, token, JobStatus.KEEPING, change, now=now)
        return
    rt.metrics.output_copies.labels(outcome="not_kept", reason=result.reason.value).inc()
    await move(rt, job, token, JobStatus.COMPLETED, _not_kept(result, attempt), now=now)


async def _kept(
    rt: Runtime, outputs: KeptOutputs, job: JobRecord, kept: KeptVideo, now: float
) -> JobChange:
    client = await rt.store.clients.get(job.client_id)
    retention = (client.output_retention_s if client else None) or outputs.retention_s
    expires_at = float(int(now + retention))
    return JobChange(
        output_kept=True,
        output_url=outputs.link(job.id, kept.name, expires_at),
        output_poster_url=(
            outputs.link(job.id, "poster.jpg", expires_at) if kept.poster_key else None
        ),
        output_key=kept.key,
        output_poster_key=kept.poster_key,
        output_sha256=kept.sha256,
        output_bytes=kept.bytes,
        output_content_type=kept.content_type,
        output_width=kept.width,
        output_height=kept.height,
        output_duration_s=kept.duration_s,
        output_expires_at=expires_at,
        output_link_expires_at=kept.link_expires_at,
        output_not_kept_reason=None,
        output_note=kept.probe_note,
    )


def _not_kept(failure: KeepFailure, attempt: int) -> JobChange:
    return JobChange(
        keep_attempts=attempt,
        output_kept=False,
        output_not_kept_reason=failure.reason.value,
        output_note=failure.message,
        output_link_expires_at=failure.link_expires_at,
    )
