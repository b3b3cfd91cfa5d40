"""The retention policy (``gateway.domain.retention``): when a finished job's records end."""

from __future__ import annotations

from gateway.domain.retention import RetentionPolicy, sweep_more

DAY = 86400.0
POLICY = RetentionPolicy(retention_s=30 * DAY, idempotency_ttl_s=DAY)


def test_a_finished_job_that_owes_nothing_is_removed_a_retention_after_it_finished() -> None:
    """Delivered, dead and gone events owe nothing; a job without events neither."""
    for states in (["delivered"], ["dead", "gone"], []):
        assert 1000.0 + 30 * DAY == POLICY.removes_at(
            status="completed", finished_at=1000.0, delivery_states=states
        )
    assert 5.0 + 30 * DAY == POLICY.removes_at(
        status="failed", finished_at=5.0, delivery_states=["delivered"]
    )


def test_no_removal_time_while_unfinished_or_owed() -> None:
    """Unfinished (whatever its dates), or an event still pending: not known yet."""
    assert [None, None, None] == [
        POLICY.removes_at(status="generating", finished_at=None, delivery_states=[]),
        POLICY.removes_at(status="queued", finished_at=1000.0, delivery_states=[]),
        POLICY.removes_at(
            status="completed", finished_at=1000.0, delivery_states=["delivered", "pending"]
        ),
    ]


def test_the_retention_never_undercuts_the_idempotency_keys() -> None:
    """A retention shorter than the keys' lifetime is stretched to it: a retry with a live key
    always finds its job."""
    short = RetentionPolicy(retention_s=10.0, idempotency_ttl_s=DAY)
    assert (DAY, 100.0 - DAY) == (short.kept_for_s, short.finished_before(100.0))
    assert (30 * DAY, 100.0 - 30 * DAY) == (POLICY.kept_for_s, POLICY.finished_before(100.0))


def test_a_sweep_runs_another_batch_only_after_a_full_one_and_within_its_bound() -> None:
    assert [True, False, False] == [
        sweep_more(removed=100, batch=100, batches_done=1, max_batches=3),
        sweep_more(removed=99, batch=100, batches_done=1, max_batches=3),
        sweep_more(removed=100, batch=100, batches_done=3, max_batches=3),
    ]
