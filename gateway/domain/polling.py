"""When to poll a generation next: a fixed loop, or an adaptive policy that learns.

Both are pure: ``next_poll_at(context) -> Unix time``. Both honour ``Retry-After``, back off on
upstream errors, and never schedule past the job's deadline (so the deadline check fires).

The adaptive policy knows, per (model, resolution, duration) and per model, the mean and spread
of past generation times; a model never seen starts from a prior (about two minutes, wide),
pooled with each generation seen until there are enough of its own. Generations of one kind
take similar times, so instead of polling every 15 s from the start it polls at the quantiles
of that learned distribution: the first poll near the 5th percentile, then ``window_polls``
polls spread over the central ``window_coverage`` of the probability (densest where completion
is likeliest), then at growing gaps if the job runs late.
With only the prior to go on, it skips the prior's first 5 % and then polls at the fixed
interval; with too little history and no prior, the fixed interval.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Protocol

import msgspec

from gateway.domain.retry import poll_error_backoff


class DurationEstimate(msgspec.Struct, frozen=True):
    count: int
    mean_s: float
    stddev_s: float
    prior: bool = False  # mostly the prior (too few generations of this kind seen yet)

    def quantile(self, p: float) -> float:
        """The generation time (seconds, never negative) below which a share ``p`` of
        generations finish, taking times as normally distributed (as the policy does)."""
        if self.stddev_s <= 0:
            return max(0.0, self.mean_s)
        return max(0.0, NormalDist(self.mean_s, self.stddev_s).inv_cdf(p))


class DurationStats(msgspec.Struct, frozen=True):
    """Welford's running mean and variance of observed generation times."""

    count: int = 0
    mean_s: float = 0.0
    m2: float = 0.0

    def add(self, seconds: float) -> DurationStats:
        count = self.count + 1
        delta = seconds - self.mean_s
        mean = self.mean_s + delta / count
        return DurationStats(count=count, mean_s=mean, m2=self.m2 + delta * (seconds - mean))

    def estimate(self) -> DurationEstimate:
        variance = self.m2 / (self.count - 1) if self.count > 1 else 0.0
        return DurationEstimate(
            count=self.count, mean_s=self.mean_s, stddev_s=math.sqrt(max(0.0, variance))
        )


def stats_key(model: str, resolution: str | None, duration: int | None) -> str:
    return f"{model}|{resolution or '-'}|{duration if duration is not None else '-'}"


def learning_keys(model: str, resolution: str | None, duration: int | None) -> list[str]:
    """Where a finished generation is counted: its exact kind, and its model as a whole."""
    exact, whole = stats_key(model, resolution, duration), stats_key(model, None, None)
    return [exact] if exact == whole else [exact, whole]


class DurationPrior(msgspec.Struct, frozen=True):
    """What to expect of a model never seen: worth ``weight`` observations."""

    mean_s: float = 120.0
    stddev_s: float = 60.0
    weight: float = 3.0


UNSEEN_MODEL_PRIOR = DurationPrior()
MIN_SAMPLES = 5


def blend(prior: DurationPrior, seen: DurationStats | None) -> DurationEstimate:
    """The prior pooled with the generations seen so far (the prior as pseudo-observations)."""
    n = seen.count if seen is not None else 0
    if seen is None or n == 0:
        return DurationEstimate(count=0, mean_s=prior.mean_s, stddev_s=prior.stddev_s, prior=True)
    total = prior.weight + n
    mean = (prior.weight * prior.mean_s + n * seen.mean_s) / total
    m2 = (
        prior.weight * prior.stddev_s**2
        + seen.m2
        + prior.weight * n / total * (seen.mean_s - prior.mean_s) ** 2
    )
    return DurationEstimate(count=n, mean_s=mean, stddev_s=math.sqrt(m2 / total), prior=True)


def expected_duration(
    stats: dict[str, DurationStats],
    model: str,
    resolution: str | None,
    duration: int | None,
    *,
    min_samples: int = MIN_SAMPLES,
    prior: DurationPrior = UNSEEN_MODEL_PRIOR,
) -> DurationEstimate:
    """The exact kind's figures once there are enough, else the model's, else the prior pooled
    with whatever was seen (an unseen model starts from the prior alone)."""
    exact = stats.get(stats_key(model, resolution, duration))
    if exact is not None and exact.count >= min_samples:
        return exact.estimate()
    whole = stats.get(stats_key(model, None, None))
    if whole is not None and whole.count >= min_samples:
        return whole.estimate()
    seen = max((s for s in (exact, whole) if s is not None), key=lambda s: s.count, default=None)
    return blend(prior, seen)


class PollContext(msgspec.Struct, frozen=True):
    submitted_at: float
    now: float
    polls_done: int
    upstream_status: str | None
    consecutive_errors: int
    retry_after_s: float | None
    deadline_at: float
    expected: DurationEstimate | None = None


class PollPolicy(Protocol):
    def next_poll_at(self, ctx: PollContext) -> float: ...


def _finish(ctx: PollContext, delay: float, *, floor_s: float, ceiling_s: float) -> float:
    """Shared rules: error backoff, Retry-After, a floor, and never past the deadline."""
    delay = max(
        delay, poll_error_backoff(ctx.consecutive_errors, floor_s=floor_s, ceiling_s=ceiling_s)
    )
    if ctx.retry_after_s is not None:
        delay = max(delay, ctx.retry_after_s)
    delay = max(delay, floor_s)
    return min(ctx.now + delay, ctx.deadline_at)


class FixedPollPolicy(msgspec.Struct, frozen=True):
    """The upstream documentation's loop: every ``interval_s``."""

    interval_s: float = 15.0
    floor_s: float = 1.0
    ceiling_s: float = 60.0

    def next_poll_at(self, ctx: PollContext) -> float:
        return _finish(
            ctx,
            self.interval_s,
            floor_s=min(self.floor_s, self.interval_s),
            ceiling_s=self.ceiling_s,
        )


class AdaptivePollPolicy(msgspec.Struct, frozen=True):
    floor_s: float = 2.0
    ceiling_s: float = 30.0
    fallback_interval_s: float = 15.0
    min_samples: int = 5
    window_polls: int = 7  # more polls in the window: less lag, more upstream calls
    window_coverage: float = 0.9  # the central share of the distribution the window spans
    sparse_gap_s: float = 120.0  # longest wait before the window (a check on a wrong estimate)

    def quantile_points(self, estimate: DurationEstimate) -> list[float]:
        """Elapsed seconds (since submission) at which the window polls fall."""
        spread = max(estimate.stddev_s, 0.05 * estimate.mean_s, self.floor_s)
        normal = NormalDist(estimate.mean_s, spread)
        low = (1.0 - self.window_coverage) / 2.0
        n = max(1, self.window_polls)
        probabilities = [low + self.window_coverage * i / max(1, n - 1) for i in range(n)]
        if n == 1:
            probabilities = [0.5]
        return [max(0.0, normal.inv_cdf(p)) for p in probabilities]

    def next_poll_at(self, ctx: PollContext) -> float:
        estimate = ctx.expected
        if estimate is not None and estimate.prior and estimate.count < self.min_samples:
            # Mostly the prior: no poll before its 5th percentile, then the fallback interval.
            elapsed = ctx.now - ctx.submitted_at
            first = self.quantile_points(estimate)[0]
            if elapsed + self.floor_s <= first:
                delay = min(first - elapsed, self.sparse_gap_s)
            else:
                delay = self.fallback_interval_s
        elif estimate is None or estimate.count < self.min_samples:
            delay = self.fallback_interval_s
        else:
            elapsed = ctx.now - ctx.submitted_at
            points = self.quantile_points(estimate)
            upcoming = [p for p in points if p >= elapsed + self.floor_s]
            if upcoming:
                delay = min(upcoming[0] - elapsed, self.sparse_gap_s)
            else:  # running late: gaps grow with how late, from the floor to the ceiling
                overdue = max(0.0, elapsed - points[-1])
                delay = min(self.ceiling_s, self.floor_s + overdue / 2.0)
        return _finish(ctx, delay, floor_s=self.floor_s, ceiling_s=self.ceiling_s)


def make_poll_policy(
    name: str, *, interval_s: float, floor_s: float, ceiling_s: float, window_polls: int = 7
) -> FixedPollPolicy | AdaptivePollPolicy:
    if name == "fixed":
        return FixedPollPolicy(interval_s=interval_s, floor_s=floor_s, ceiling_s=ceiling_s)
    if name == "adaptive":
        return AdaptivePollPolicy(
            floor_s=floor_s,
            ceiling_s=ceiling_s,
            fallback_interval_s=interval_s,
            window_polls=window_polls,
        )
    raise ValueError(f"unknown poll policy {name!r}; use 'fixed' or 'adaptive'")
