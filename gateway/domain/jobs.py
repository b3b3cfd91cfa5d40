"""The job state machine: statuses, the transitions allowed between them, and error codes.

::

    accepted ──▶ submitting ──▶ queued ──▶ generating ──▶ (keeping) ──▶ completed
       ▲  │          │  │          │  ▲        │
       │  │          │  └──────────┼──┼────────┼──────▶ failed
       │  └──────────┼─────────────┴──┼────────┴──────▶ failed
       └─────────────┘ (retryable refusal, or opt-in resubmission)

A job may also jump from ``submitting`` straight to ``generating`` or ``completed`` when the first
poll already finds it there, and from ``queued`` to ``completed``. Terminal statuses never change.

``keeping`` (issue 26): the upstream reported the generation completed and the gateway is copying
the video into its own store before it announces the job ``completed``. Every status the
upstream can report completed from may enter it; it leaves only for ``completed`` (a copy that
fails still completes the job, with ``kept: false``): keeping never fails a paid job, and the
job's deadline does not apply to it.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.history import UPSTREAM_GENERATING, UPSTREAM_QUEUED, JobEventKind


class JobStatus(StrEnum):
    """A job's status; each word comes from the history's list (``gateway.domain.history``)."""

    ACCEPTED = JobEventKind.ACCEPTED.value
    SUBMITTING = JobEventKind.SUBMITTING.value
    QUEUED = UPSTREAM_QUEUED
    GENERATING = UPSTREAM_GENERATING
    KEEPING = JobEventKind.KEEPING.value
    COMPLETED = JobEventKind.COMPLETED.value
    FAILED = JobEventKind.FAILED.value

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})
IN_FLIGHT = frozenset(set(JobStatus) - TERMINAL)

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.ACCEPTED: frozenset({JobStatus.SUBMITTING, JobStatus.FAILED}),
    JobStatus.SUBMITTING: frozenset(
        {
            JobStatus.ACCEPTED,
            JobStatus.SUBMITTING,  # submitted again after an unknown outcome (operator opt-in)
            JobStatus.QUEUED,
            JobStatus.GENERATING,
            JobStatus.KEEPING,
            JobStatus.COMPLETED,
            JobStatus.FAILED,
        }
    ),
    JobStatus.QUEUED: frozenset(
        {
            JobStatus.QUEUED,
            JobStatus.GENERATING,
            JobStatus.KEEPING,
            JobStatus.COMPLETED,
            JobStatus.FAILED,
        }
    ),
    JobStatus.GENERATING: frozenset(
        {JobStatus.GENERATING, JobStatus.KEEPING, JobStatus.COMPLETED, JobStatus.FAILED}
    ),
    # A copy retried stays keeping; a copy published or given up completes the job.
    JobStatus.KEEPING: frozenset({JobStatus.KEEPING, JobStatus.COMPLETED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
}


class InvalidTransition(ValueError):
    """A status change the state machine does not allow."""

    def __init__(self, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"a job cannot go from {current.value!r} to {target.value!r}")
        self.current = current
        self.target = target


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in _ALLOWED[current]


def transition(current: JobStatus, target: JobStatus) -> JobStatus:
    """Return ``target`` if the move is allowed, else raise :class:`InvalidTransition`."""
    if not can_transition(current, target):
        raise InvalidTransition(current, target)
    return target


class ErrorCode(StrEnum):
    """Why a job failed; stable strings callers can branch on."""

    UPSTREAM_REJECTED = "upstream_rejected"  # 400/401/403/404 on submit
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # retryable refusals ran out
    SUBMISSION_OUTCOME_UNKNOWN = "submission_outcome_unknown"  # may or may not have started
    GENERATION_FAILED = "generation_failed"  # upstream status "error"
    GENERATION_NOT_FOUND = "generation_not_found"  # upstream 404 on poll, repeatedly
    DEADLINE_EXCEEDED = "deadline_exceeded"  # not finished by the job's deadline


# The documented statuses, and the words some models' examples show (succeeded, failed). Any
# other word (waiting, active, one never seen before) means the generation is still running.
UPSTREAM_STATUS_TO_JOB: dict[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "generating": JobStatus.GENERATING,
    "completed": JobStatus.COMPLETED,
    "succeeded": JobStatus.COMPLETED,
    "error": JobStatus.FAILED,
    "failed": JobStatus.FAILED,
}
KNOWN_RUNNING_STATUSES = frozenset({"waiting", "active", "processing", "pending", "in_progress"})


def status_label(reported: str) -> str:
    """A bounded metric label for an upstream status: the word if known, else ``other``."""
    if reported in UPSTREAM_STATUS_TO_JOB or reported in KNOWN_RUNNING_STATUSES:
        return reported
    return "other"


# The upstream's four words for a job's status, as the drop-in ``/v2`` surface answers them: a job
# the upstream has not accepted yet is, to a caller of the upstream's API, still queued.
JOB_TO_UPSTREAM_STATUS: dict[JobStatus, str] = {
    JobStatus.ACCEPTED: "queued",
    JobStatus.SUBMITTING: "queued",
    JobStatus.QUEUED: "queued",
    JobStatus.GENERATING: "generating",
    # Still running, to a caller of the upstream's API: the video it will be given is the kept
    # one, which is not there yet.
    JobStatus.KEEPING: "generating",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "error",
}


def upstream_status_of(status: JobStatus) -> str:
    """The upstream's status word (``queued | generating | completed | error``) for a job."""
    return JOB_TO_UPSTREAM_STATUS[status]


def status_after_report(current: JobStatus, reported: str) -> JobStatus:
    """The job's status once the upstream reports ``reported`` (unknown words count as
    ``generating``). The upstream may say ``queued`` after ``generating``; a job never moves
    backwards, so a report of an earlier stage keeps the current status."""
    target = UPSTREAM_STATUS_TO_JOB.get(reported, JobStatus.GENERATING)
    return target if can_transition(current, target) else current


def deadline_message(upstream_status: str | None) -> str:
    """Why a job failed with ``deadline_exceeded``, naming the upstream's last word if any."""
    last = f" (last upstream status: {upstream_status})." if upstream_status else "."
    return "The generation did not finish before the job's deadline" + last
