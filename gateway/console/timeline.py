"""A job's life as rows for the job page: accepted, submitted, upstream status changes with the
polls they took, finished, and every delivery attempt.

``job_timeline`` is the one seam: it reads what the store keeps about the job and returns entries
oldest first. (Until the job history of issue 10 lands it is reconstructed from the job row and
its delivery attempts: only the latest upstream status is known then.)
"""

from __future__ import annotations

import msgspec

from gateway.store import Store
from gateway.store.records import JobRecord


class TimelineEntry(msgspec.Struct, frozen=True):
    at: float
    kind: str  # accepted | submitted | upstream_status | completed | failed | delivery_attempted
    title: str
    detail: str | None = None
    polls: int | None = None
    ok: bool | None = None  # delivery attempts and the outcome: green, red, or neutral
    # Delivery attempts only.
    event_id: str | None = None
    attempt: int | None = None
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    answer: str | None = None


async def job_timeline(store: Store, job: JobRecord) -> list[TimelineEntry]:
    entries = [TimelineEntry(at=job.created_at, kind="accepted", title="Accepted")]
    if job.submitted_at is not None:
        entries.append(
            TimelineEntry(
                at=job.submitted_at,
                kind="submitted",
                title="Submitted upstream",
                detail=f"generation {job.generation_id}" if job.generation_id else None,
            )
        )
    if job.upstream_status is not None:
        seen_at = job.ready_at if job.ready_at is not None else job.updated_at
        if job.finished_at is not None:
            seen_at = min(seen_at, job.finished_at)
        entries.append(
            TimelineEntry(
                at=seen_at,
                kind="upstream_status",
                title=f"Upstream status: {job.upstream_status}",
                polls=job.poll_count,
            )
        )
    if job.finished_at is not None:
        failed = job.error is not None
        entries.append(
            TimelineEntry(
                at=job.finished_at,
                kind="failed" if failed else "completed",
                title="Failed" if failed else "Completed",
                detail=(
                    f"{job.error.get('code', '')}: {job.error.get('message', '')}"
                    if job.error is not None
                    else None
                ),
                ok=not failed,
            )
        )
    for attempt in await store.jobs.list_attempts(job.id):
        entries.append(
            TimelineEntry(
                at=attempt.attempted_at,
                kind="delivery_attempted",
                title=f"Webhook attempt {attempt.attempt}",
                ok=attempt.status_code is not None and 200 <= attempt.status_code < 300,
                event_id=attempt.delivery_id,
                attempt=attempt.attempt,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                answer=attempt.response_excerpt,
            )
        )
    return sorted(entries, key=lambda entry: entry.at)
