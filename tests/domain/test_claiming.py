"""The claim plan on its own: how much one claim takes, and when another is worth its query."""

from __future__ import annotations

import pytest

from gateway.domain.claiming import (
    MIN_CLAIM_GAP_S,
    NO_BACKLOG,
    Backlog,
    Capacity,
    Limits,
    after_delivery_claim,
    after_job_claim,
    claim_again_at,
    deliveries_worth_claiming,
    job_room,
    jobs_worth_claiming,
    limits,
)


def capacity(*, running: int = 0, free: int = 32, freed: bool = False, slots: int = 64) -> Capacity:
    return Capacity(job_slots=slots, jobs_running=running, delivery_free=free, delivery_freed=freed)


def test_an_idle_worker_claims_its_whole_room_up_to_the_batch() -> None:
    """Nothing running: every free slot of each kind, at most ``batch``."""
    assert Limits(jobs=64, deliveries=32) == limits(capacity(), NO_BACKLOG, batch=200)
    assert Limits(jobs=10, deliveries=10) == limits(capacity(), NO_BACKLOG, batch=10)


def test_a_skipped_kind_claims_nothing() -> None:
    assert Limits(jobs=0, deliveries=32) == limits(capacity(), NO_BACKLOG, batch=200, jobs=False)
    assert Limits(jobs=64, deliveries=0) == limits(
        capacity(), NO_BACKLOG, batch=200, deliveries=False
    )


def test_jobs_keep_a_quarter_of_their_slots_while_deliveries_crowd() -> None:
    """Crowded: jobs use at most a quarter of their slots, less what already runs."""
    crowded = Backlog(crowded=True)
    assert 16 == job_room(capacity(), crowded)
    assert 6 == job_room(capacity(running=10), crowded)
    assert 0 == job_room(capacity(running=20), crowded)  # never negative room
    assert 0 == limits(capacity(running=20), crowded, batch=200).jobs
    assert 44 == job_room(capacity(running=20), NO_BACKLOG)


def test_a_full_job_claim_or_no_room_means_more_may_be_due() -> None:
    assert after_job_claim(NO_BACKLOG, limit=10, claimed=10).jobs
    assert after_job_claim(NO_BACKLOG, limit=0, claimed=0).jobs
    assert not after_job_claim(Backlog(jobs=True), limit=10, claimed=3).jobs
    # The other kind's flags are kept.
    assert Backlog(jobs=False, deliveries=True, crowded=True) == after_job_claim(
        Backlog(jobs=True, deliveries=True, crowded=True), limit=10, claimed=3
    )


def test_a_delivery_claim_ends_its_backlog_when_it_let_nothing_out() -> None:
    """Held back with some let out: more is due. Held back with nothing let out (every due
    delivery waits on a share or a cap): the backlog ends, so polls are not starved by claims
    that cannot send anything."""
    assert after_delivery_claim(
        NO_BACKLOG, limit=8, let_out=8, held_back=True, filled=True
    ) == Backlog(deliveries=True, crowded=True)
    assert after_delivery_claim(
        NO_BACKLOG, limit=8, let_out=0, held_back=True, filled=False
    ) == Backlog(deliveries=False, crowded=False)
    assert after_delivery_claim(
        Backlog(jobs=True), limit=8, let_out=3, held_back=False, filled=False
    ) == Backlog(jobs=True)


def test_no_delivery_room_means_crowded_and_more_due() -> None:
    assert Backlog(deliveries=True, crowded=True) == after_delivery_claim(
        NO_BACKLOG, limit=0, let_out=0, held_back=False, filled=False
    )


@pytest.mark.parametrize(
    ("running", "crowded", "worth"),
    [
        (64, False, False),  # no room
        (49, False, False),  # 15 free: under a quarter of 64
        (48, False, True),  # 16 free: a quarter
        (13, True, False),  # crowded: room 3 of the quarter (16), worth needs 4
        (12, True, True),  # crowded: room 4
    ],
)
def test_a_job_claim_is_worth_its_query_once_a_quarter_is_free(
    running: int, crowded: bool, worth: bool
) -> None:
    backlog = Backlog(jobs=True, crowded=crowded)
    assert worth == jobs_worth_claiming(capacity(running=running), backlog)


def test_no_job_claim_without_a_job_backlog() -> None:
    assert not jobs_worth_claiming(capacity(), NO_BACKLOG)


def test_a_delivery_claim_waits_for_a_slot_given_back() -> None:
    backlog = Backlog(deliveries=True)
    assert not deliveries_worth_claiming(capacity(free=5, freed=False), backlog)
    assert not deliveries_worth_claiming(capacity(free=0, freed=True), backlog)
    assert deliveries_worth_claiming(capacity(free=1, freed=True), backlog)
    assert not deliveries_worth_claiming(capacity(free=1, freed=True), NO_BACKLOG)


def test_a_wake_during_a_tick_keeps_the_gap_and_never_postpones() -> None:
    assert 10.0 + MIN_CLAIM_GAP_S == claim_again_at(10.0, last_claim_at=10.0, planned=None)
    assert 12.0 == claim_again_at(12.0, last_claim_at=10.0, planned=None)
    assert 11.0 == claim_again_at(12.0, last_claim_at=10.0, planned=11.0)  # earlier plan kept
