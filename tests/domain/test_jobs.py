"""The job state machine, pinned as an explicit table of allowed moves."""

from __future__ import annotations

import itertools

import pytest

from gateway.domain.jobs import (
    InvalidTransition,
    JobStatus,
    can_transition,
    status_after_report,
    status_label,
    transition,
    upstream_status_of,
)

A, S, Q, G, K, C, F = (
    JobStatus.ACCEPTED,
    JobStatus.SUBMITTING,
    JobStatus.QUEUED,
    JobStatus.GENERATING,
    JobStatus.KEEPING,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
)
ALLOWED = {
    (A, S), (A, F),
    (S, A), (S, S), (S, Q), (S, G), (S, K), (S, C), (S, F),
    (Q, Q), (Q, G), (Q, K), (Q, C), (Q, F),
    (G, G), (G, K), (G, C), (G, F),
    (K, K), (K, C),  # keeping never fails a job: a copy given up still completes it
}  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobStatus, JobStatus)))
def test_every_pair(current: JobStatus, target: JobStatus) -> None:
    """Each of the 49 pairs is allowed exactly when the table says so."""
    assert ((current, target) in ALLOWED) == can_transition(current, target)


def test_terminal_statuses_never_change() -> None:
    """completed and failed are final: every move out of them raises."""
    for current, target in itertools.product((C, F), JobStatus):
        with pytest.raises(InvalidTransition):
            transition(current, target)
    assert {C, F} == {s for s in JobStatus if s.is_terminal}


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (JobStatus.SUBMITTING, "queued", JobStatus.QUEUED),
        (JobStatus.QUEUED, "generating", JobStatus.GENERATING),
        (JobStatus.GENERATING, "queued", JobStatus.GENERATING),  # never backwards
        (JobStatus.GENERATING, "completed", JobStatus.COMPLETED),
        (JobStatus.QUEUED, "error", JobStatus.FAILED),
        (JobStatus.QUEUED, "rendering", JobStatus.GENERATING),  # unknown word: still working
        (JobStatus.COMPLETED, "queued", JobStatus.COMPLETED),
        (JobStatus.GENERATING, "succeeded", JobStatus.COMPLETED),  # some models' word
        (JobStatus.QUEUED, "failed", JobStatus.FAILED),
        (JobStatus.QUEUED, "waiting", JobStatus.GENERATING),
        (JobStatus.QUEUED, "active", JobStatus.GENERATING),
    ],
)
def test_status_after_report(current: JobStatus, reported: str, expected: JobStatus) -> None:
    assert expected == status_after_report(current, reported)


def test_every_job_status_reads_as_one_of_the_upstreams_four_words() -> None:
    """The drop-in /v2 reports a job in the upstream's vocabulary; reading the word back never
    moves a job backwards (a job the upstream has not seen yet is still queued)."""
    assert {
        A: "queued",
        S: "queued",
        Q: "queued",
        G: "generating",
        K: "generating",  # the kept video is not there yet
        C: "completed",
        F: "error",
    } == {status: upstream_status_of(status) for status in JobStatus}
    for status in (Q, G, C, F):
        assert status == status_after_report(status, upstream_status_of(status))


def test_status_labels_are_a_bounded_set() -> None:
    """Metric labels: known words as they are, anything else ``other`` (no label explosion)."""
    labels = {status_label(word) for word in ["completed", "succeeded", "waiting", "x1", "x2"]}
    assert {"completed", "succeeded", "waiting", "other"} == labels
