"""Poll policies: the fixed loop, the adaptive one, and a simulation of both (virtual clock)."""

from __future__ import annotations

import random
import statistics

import pytest

from gateway.domain.poll_simulation import learn, realistic_generation_times, simulate
from gateway.domain.polling import (
    AdaptivePollPolicy,
    DurationEstimate,
    DurationStats,
    FixedPollPolicy,
    PollContext,
    stats_key,
)

T0 = 1_000_000.0
LEARNED = DurationEstimate(count=200, mean_s=150.0, stddev_s=15.0)


def ctx(elapsed: float, **changes: object) -> PollContext:
    base: dict[str, object] = {
        "submitted_at": T0,
        "now": T0 + elapsed,
        "polls_done": 0,
        "upstream_status": "queued",
        "consecutive_errors": 0,
        "retry_after_s": None,
        "deadline_at": T0 + 1800,
        "expected": LEARNED,
    }
    return PollContext(**{**base, **changes})  # type: ignore[arg-type]


def test_fixed_polls_every_interval_and_honours_retry_after_and_deadline() -> None:
    """15 s apart; Retry-After pushes it later; never past the deadline."""
    policy = FixedPollPolicy(interval_s=15)
    assert (T0 + 15, T0 + 40, T0 + 100) == (
        policy.next_poll_at(ctx(0)),
        policy.next_poll_at(ctx(0, retry_after_s=40)),
        policy.next_poll_at(ctx(90, deadline_at=T0 + 100)),
    )


def test_errors_back_off() -> None:
    """Consecutive upstream errors lengthen the wait (capped), for both policies."""
    fixed = FixedPollPolicy(interval_s=1, floor_s=1, ceiling_s=30)
    delays = [fixed.next_poll_at(ctx(0, consecutive_errors=n)) - T0 for n in range(0, 8)]
    assert [1, 2, 4, 8, 16, 32, 64, 120] == delays


def test_adaptive_falls_back_to_the_interval_without_history() -> None:
    """With fewer than min_samples finished jobs it behaves like the fixed loop."""
    policy = AdaptivePollPolicy(fallback_interval_s=15, min_samples=5)
    few = DurationEstimate(count=4, mean_s=150, stddev_s=15)
    assert (T0 + 15, T0 + 15) == (
        policy.next_poll_at(ctx(0, expected=None)),
        policy.next_poll_at(ctx(0, expected=few)),
    )


def test_adaptive_first_poll_waits_for_the_likely_window() -> None:
    """No poll at 15 s: the first one lands near the learned 5th percentile (about 125 s),
    capped by the sparse gap so a wrong estimate is caught."""
    policy = AdaptivePollPolicy(sparse_gap_s=200)
    first = policy.next_poll_at(ctx(0)) - T0
    assert 124 < first < 126
    capped = AdaptivePollPolicy(sparse_gap_s=60).next_poll_at(ctx(0)) - T0
    assert 60 == capped


def test_adaptive_polls_densely_in_the_window_and_backs_off_when_late() -> None:
    """Inside the window polls are seconds apart; far past it gaps grow to the ceiling."""
    policy = AdaptivePollPolicy(floor_s=2, ceiling_s=30)
    inside = policy.next_poll_at(ctx(142)) - (T0 + 142)
    late = policy.next_poll_at(ctx(400)) - (T0 + 400)
    assert 2 <= inside <= 10
    assert 30 == late


def test_duration_stats_match_the_statistics_module() -> None:
    """Welford's running figures equal the batch mean and sample standard deviation."""
    samples = [140.0, 151.5, 149.0, 170.25, 133.0, 155.0]
    stats = DurationStats()
    for s in samples:
        stats = stats.add(s)
    estimate = stats.estimate()
    assert (
        6,
        pytest.approx(statistics.mean(samples)),
        pytest.approx(statistics.stdev(samples)),
    ) == (
        estimate.count,
        estimate.mean_s,
        estimate.stddev_s,
    )
    assert "m|720p|5" == stats_key("m", "720p", 5)


def test_adaptive_halves_upstream_calls_without_more_lag() -> None:
    """Generation times ~ N(150, 15) with 5 % long queues (+60 to 120 s), 3,000 jobs, seeded:
    the adaptive policy, trained on 200 earlier jobs, makes at most half the fixed 15-s loop's
    calls with a mean lag no worse than the loop's (issue 7's goal)."""
    rng = random.Random(1)
    learned = learn(realistic_generation_times(rng, 200))
    jobs = realistic_generation_times(rng, 3000)
    fixed = simulate(FixedPollPolicy(interval_s=15), jobs, learned)
    adaptive = simulate(AdaptivePollPolicy(), jobs, learned)
    assert adaptive.calls_per_job <= fixed.calls_per_job / 2
    assert adaptive.mean_lag_s <= fixed.mean_lag_s


def test_simulation_counts_every_poll_and_measures_lag_exactly() -> None:
    """A 15-s loop on jobs ready at 20 s and 45 s: polls at 15, 30 (ready at 20: lag 10) and
    15, 30, 45 (lag 0): 2.5 calls per job, mean lag 5 s."""
    figures = simulate(FixedPollPolicy(interval_s=15), [20.0, 45.0], None)
    assert (2, 2.5, 5.0) == (figures.jobs, figures.calls_per_job, figures.mean_lag_s)


def test_without_history_the_adaptive_policy_is_the_fixed_loop() -> None:
    """Fewer than ``min_samples`` finished jobs: the fallback interval, exactly like the loop."""
    jobs = realistic_generation_times(random.Random(2), 300)
    few = learn(jobs[:3])
    assert simulate(FixedPollPolicy(interval_s=15), jobs, few) == simulate(
        AdaptivePollPolicy(fallback_interval_s=15), jobs, few
    )


def test_an_unseen_model_starts_from_the_prior_and_learns_per_model() -> None:
    """No history: the prior (first poll after its 5th percentile, then the interval). A few
    generations shift it; enough of the model's own (any resolution) replace it."""
    from gateway.domain.polling import (
        UNSEEN_MODEL_PRIOR,
        expected_duration,
        learning_keys,
    )

    stats: dict[str, DurationStats] = {}
    unseen = expected_duration(stats, "new/model", "720p", 5)
    assert (True, 0, UNSEEN_MODEL_PRIOR.mean_s) == (unseen.prior, unseen.count, unseen.mean_s)
    policy = AdaptivePollPolicy(fallback_interval_s=15, min_samples=5)
    first = policy.next_poll_at(ctx(0, expected=unseen)) - T0
    assert 15 < first < 30  # not at 15 s: nothing of this kind is expected that early
    assert T0 + 40 + 15 == policy.next_poll_at(ctx(40, expected=unseen))

    for seconds in (300.0, 310.0):
        for key in learning_keys("new/model", "1080p", 10):
            stats[key] = stats.get(key, DurationStats()).add(seconds)
    shifted = expected_duration(stats, "new/model", "720p", 5)
    assert shifted.prior
    assert UNSEEN_MODEL_PRIOR.mean_s < shifted.mean_s < 305
    for seconds in (300.0, 305.0, 310.0):
        for key in learning_keys("new/model", "1080p", 10):
            stats[key] = stats[key].add(seconds)
    learned = expected_duration(stats, "new/model", "720p", 5)  # the model's own, 5 samples
    assert (False, 5, 305.0) == (learned.prior, learned.count, learned.mean_s)
