"""A job's life as rows for the job page: accepted, submitted, upstream status changes with the
polls they took, finished, and every delivery attempt.

``job_timeline`` is the one seam: it reads the job's stored history (``store.history``, one row
per change) and returns entries oldest first. A job stored before the history existed has no
rows: its timeline is reconstructed from the job row and its delivery attempts (only the latest
upstream status is known then).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import msgspec

from gateway.service.ports import StorePort
from gateway.store.records import JobRecord

HISTORY_SHOWN = 1000  # a job's page shows at most this many changes


class TimelineEntry(msgspec.Struct, frozen=True):
    at: float
    # accepted | submitted | upstream_status | keeping | completed | failed | delivery_attempted
    kind: str
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


class HistoryEvent(Protocol):
    """One row of a job's stored history (``job_events``; see HISTORY_SPEC in issue 10)."""

    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def upstream_status(self) -> str | None: ...
    @property
    def polls(self) -> int: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


def _error_text(error: Any) -> str | None:
    if isinstance(error, Mapping):
        return f"{error.get('code', '')}: {error.get('message', '')}"
    return None if error is None else str(error)


def _kept_text(data: Mapping[str, Any]) -> str | None:
    """What a completion's history row says of its video, when a copy was made."""
    kept = data.get("kept")
    if kept is True:
        return "video kept"
    if kept is False:
        return f"video not kept: {data.get('not_kept_reason')}"
    return None


def entries_from_history(events: Iterable[HistoryEvent]) -> list[TimelineEntry]:
    """Timeline entries from the stored history, oldest first. An upstream status change says
    how many polls it took since the previous change (or since submission)."""
    entries: list[TimelineEntry] = []
    polls_before = 0
    for event in events:
        data = event.data
        if event.kind == "accepted":
            entries.append(TimelineEntry(at=event.at, kind=event.kind, title="Accepted"))
        elif event.kind == "submitting":
            entries.append(TimelineEntry(at=event.at, kind=event.kind, title="Submitting upstream"))
        elif event.kind == "submitted":
            polls_before = event.polls
            generation = data.get("generation_id")
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    title="Submitted upstream",
                    detail=f"generation {generation}" if generation else None,
                )
            )
        elif event.kind == "upstream_status":
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    title=f"Upstream status: {event.upstream_status}",
                    polls=max(0, event.polls - polls_before),
                )
            )
            polls_before = event.polls
        elif event.kind == "keeping":
            entries.append(
                TimelineEntry(at=event.at, kind=event.kind, title="Keeping the video (copying)")
            )
        elif event.kind in ("completed", "failed"):
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    title=event.kind.capitalize(),
                    detail=_error_text(data.get("error")) or _kept_text(data),
                    ok=event.kind == "completed",
                )
            )
        elif event.kind == "delivery_attempted":
            status_code = data.get("status_code")
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    title=f"Webhook attempt {data.get('attempt', '')}".strip(),
                    ok=data.get("decision") == "delivered",
                    event_id=data.get("delivery_id"),
                    attempt=data.get("attempt"),
                    status_code=status_code if isinstance(status_code, int) else None,
                    latency_ms=data.get("latency_ms"),
                    error=data.get("error"),
                    answer=data.get("response_excerpt"),
                )
            )
        else:  # redelivery_requested, and kinds added later (e.g. submission retries)
            entries.append(
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    title=event.kind.replace("_", " ").capitalize(),
                    detail=_error_text(data.get("error")) or data.get("message"),
                )
            )
    return entries


async def job_timeline(store: StorePort, job: JobRecord) -> list[TimelineEntry]:
    events = await store.history.list_for_job(job.id, limit=HISTORY_SHOWN)
    if events:
        return entries_from_history(events)
    return await _timeline_from_rows(store, job)


async def _timeline_from_rows(store: StorePort, job: JobRecord) -> list[TimelineEntry]:
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
    for attempt in await store.deliveries.attempts_for_job(job.id):
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
