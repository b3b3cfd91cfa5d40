"""A job's history as data: the kinds of change a job goes through, in one list.

Every change of a job (its status, the upstream's raw status, each webhook attempt, a request to
send its events again) is stored as one row of ``job_events`` in the same transaction as the
change itself; the event stream and the console read them. Polls that change nothing write
nothing. Job statuses (``gateway.domain.jobs``) and webhook event types
(``gateway.domain.events``) take their words from this list instead of spelling them again.
"""

from __future__ import annotations

from enum import StrEnum


class JobEventKind(StrEnum):
    ACCEPTED = "accepted"  # the job was stored (202 sent)
    SUBMITTING = "submitting"  # the upstream POST is about to leave (committed before it)
    SUBMISSION_RETRY = "submission_retry"  # a retryable refusal: due again later
    SUBMITTED = "submitted"  # upstream accepted it: generation id known
    UPSTREAM_STATUS = "upstream_status"  # the upstream's raw status changed (queued → generating …)
    KEEPING = "keeping"  # the generation finished: its video is being copied (issue 26)
    COMPLETED = "completed"  # terminal
    FAILED = "failed"  # terminal
    DELIVERY_ATTEMPTED = "delivery_attempted"  # one webhook attempt was made (any outcome)
    REDELIVERY_REQUESTED = "redelivery_requested"  # redeliver / replay made deliveries due again


TERMINAL_KINDS = frozenset({JobEventKind.COMPLETED, JobEventKind.FAILED})

# Words the upstream uses for the stages of a generation that a job mirrors as its own status.
UPSTREAM_QUEUED = "queued"
UPSTREAM_GENERATING = "generating"


def kinds_for_change(
    *,
    status_before: str,
    status_after: str,
    upstream_before: str | None,
    upstream_after: str | None,
    generation_id_after: str | None,
) -> list[JobEventKind]:
    """The history rows one write to a job calls for, in order (none for a poll that changed
    nothing). Statuses are compared as words, so this module needs no other."""
    kinds: list[JobEventKind] = []
    # Leaving ``submitting`` with a generation id: the upstream took the job.
    submitted = (
        status_before == JobEventKind.SUBMITTING
        and status_after not in (JobEventKind.SUBMITTING, JobEventKind.ACCEPTED)
        and generation_id_after is not None
    )
    if submitted:  # its row carries the first upstream status too
        kinds.append(JobEventKind.SUBMITTED)
    if status_after != status_before:
        if status_after == JobEventKind.SUBMITTING:
            kinds.append(JobEventKind.SUBMITTING)
        elif status_after == JobEventKind.ACCEPTED:
            kinds.append(JobEventKind.SUBMISSION_RETRY)
        elif status_after == JobEventKind.KEEPING:
            kinds.append(JobEventKind.KEEPING)
    if upstream_after is not None and upstream_after != upstream_before and not submitted:
        kinds.append(JobEventKind.UPSTREAM_STATUS)
    if status_after != status_before and status_after in TERMINAL_KINDS:
        kinds.append(JobEventKind(status_after))
    return kinds
