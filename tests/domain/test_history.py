"""The history's one list of kinds, and which rows one write to a job calls for."""

from __future__ import annotations

import pytest

from gateway.domain.events import EVENT_TYPES
from gateway.domain.history import TERMINAL_KINDS, JobEventKind, kinds_for_change
from gateway.domain.jobs import TERMINAL, JobStatus

K = JobEventKind


def test_statuses_and_event_types_take_their_words_from_the_list() -> None:
    """Terminal statuses are the terminal kinds; every webhook type is its status's word."""
    assert {str(k) for k in TERMINAL_KINDS} == {str(s) for s in TERMINAL}
    assert {K.ACCEPTED, K.SUBMITTING} <= {K(s) for s in JobStatus if s in set(K)}
    assert {f"video.generation.{s}" for s in EVENT_TYPES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # (status, upstream status, generation id) before → after
        (("accepted", None, None), ("submitting", None, None), [K.SUBMITTING]),
        (("submitting", None, None), ("accepted", None, None), [K.SUBMISSION_RETRY]),
        (("submitting", None, None), ("queued", "queued", "gen_1"), [K.SUBMITTED]),
        (
            ("submitting", None, None),
            ("completed", "completed", "gen_1"),
            [K.SUBMITTED, K.COMPLETED],
        ),
        (("submitting", None, None), ("failed", None, None), [K.FAILED]),
        (("queued", "queued", "gen_1"), ("queued", "queued", "gen_1"), []),  # an idle poll
        (("queued", "queued", "gen_1"), ("generating", "generating", "gen_1"), [K.UPSTREAM_STATUS]),
        (
            ("generating", "generating", "gen_1"),
            ("generating", "queued", "gen_1"),
            [K.UPSTREAM_STATUS],
        ),
        (
            ("generating", "generating", "gen_1"),
            ("failed", "error", "gen_1"),
            [K.UPSTREAM_STATUS, K.FAILED],
        ),
        (("generating", "generating", "gen_1"), ("failed", "generating", "gen_1"), [K.FAILED]),
    ],
)
def test_kinds_for_change(
    before: tuple[str, str | None, str | None],
    after: tuple[str, str | None, str | None],
    expected: list[JobEventKind],
) -> None:
    assert expected == kinds_for_change(
        status_before=before[0],
        status_after=after[0],
        upstream_before=before[1],
        upstream_after=after[1],
        generation_id_after=after[2],
    )
