"""Run a poll policy over a virtual clock: upstream calls per job and notification lag.

Pure and fast (thousands of jobs in well under a second), so the test suite can hold the
adaptive policy to its goal and an operator can try knobs before changing them
(``bench/poll_policy.py`` prints the table).
"""

from __future__ import annotations

import random
import statistics

import msgspec

from gateway.domain.polling import DurationEstimate, DurationStats, PollContext, PollPolicy

_T0 = 1_000_000.0


class SimulationFigures(msgspec.Struct, frozen=True):
    jobs: int
    calls_per_job: float
    mean_lag_s: float
    p95_lag_s: float


def realistic_generation_times(
    rng: random.Random,
    count: int,
    *,
    mean_s: float = 150.0,
    stddev_s: float = 15.0,
    long_queue_share: float = 0.05,
    long_queue_extra_s: tuple[float, float] = (60.0, 120.0),
) -> list[float]:
    """Seconds from submission to ready: normal around ``mean_s``, and a share of jobs that
    waited in a long queue first."""
    times = []
    for _ in range(count):
        seconds = max(1.0, rng.gauss(mean_s, stddev_s))
        if rng.random() < long_queue_share:
            seconds += rng.uniform(*long_queue_extra_s)
        times.append(seconds)
    return times


def learn(times: list[float]) -> DurationEstimate:
    stats = DurationStats()
    for seconds in times:
        stats = stats.add(seconds)
    return stats.estimate()


def simulate(
    policy: PollPolicy,
    ready_times: list[float],
    expected: DurationEstimate | None,
    *,
    deadline_s: float = 3600.0,
) -> SimulationFigures:
    """Poll each job as the policy says; a job's lag is its first poll at or after it was ready,
    less the time it was ready. Every poll is one upstream GET."""
    calls = 0
    lags = []
    for ready in ready_times:
        now, polls = _T0, 0
        status = "queued"
        while True:
            context = PollContext(
                submitted_at=_T0,
                now=now,
                polls_done=polls,
                upstream_status=status,
                consecutive_errors=0,
                retry_after_s=None,
                deadline_at=_T0 + deadline_s,
                expected=expected,
            )
            now = policy.next_poll_at(context)
            polls += 1
            if now - _T0 >= ready or now >= _T0 + deadline_s:
                lags.append(max(0.0, now - _T0 - ready))
                break
            status = "generating"
        calls += polls
    lags.sort()
    return SimulationFigures(
        jobs=len(ready_times),
        calls_per_job=calls / len(ready_times),
        mean_lag_s=statistics.fmean(lags),
        p95_lag_s=lags[min(len(lags) - 1, int(0.95 * len(lags)))],
    )
