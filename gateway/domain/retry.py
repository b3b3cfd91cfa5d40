"""Every retry decision of the gateway, in one place: webhook deliveries, upstream submissions,
and polls that failed.

Pure: the attempt's result or number, the time and a random number in [0, 1) go in; a decision
or a time comes out.

- **Deliveries** (``DeliveryPolicy``, ``decide``): Standard Webhooks' status handling: 2xx
  succeeds; 410 Gone means the receiver wants no more; a redirect is a failure (never
  followed); ``Retry-After`` is honoured; Svix's schedule by default.
- **Submissions** (``SubmissionBackoff``): a refusal that surely started nothing (429, 502,
  503, connection refused) is tried again with exponential backoff, ``Retry-After`` honoured up
  to an hour, never past the job's deadline. (Whether to retry at all — an unknown outcome is
  never resubmitted by default — is the submission's decision.)
- **Polls** (``poll_error_backoff``): after upstream errors the next poll waits longer, doubling
  from the poll floor. (When to poll a healthy generation is the poll policy's:
  ``gateway.domain.polling``.)
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Literal

import msgspec

from gateway.domain.delivery import AttemptResult

# Svix's schedule: the first attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SVIX_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
# Refusals that cannot get better by waiting: the guard (or the broker allow-list) refused the
# address; the target URL is not a valid one; the message is over the broker's size limit (the
# same bytes go each time).
_HOPELESS_ERRORS = frozenset({"blocked_address", "invalid_target", "message_too_large"})


class DeliveryPolicy(msgspec.Struct, frozen=True):
    """``schedule[0]`` is the delay before the first attempt; ``schedule[n]`` the wait after the
    n-th failed attempt. After ``len(schedule)`` attempts the delivery is dead."""

    schedule: tuple[float, ...] = SVIX_SCHEDULE
    jitter: float = 0.2  # ±20 %
    max_retry_after_s: float = 86400.0
    fast_connect_retry: bool = True  # Svix: one extra immediate retry if the connection failed fast

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)


class Decision(msgspec.Struct, frozen=True):
    kind: Literal["delivered", "retry", "dead", "gone"]
    next_at: float | None
    reason: str


def jittered(delay: float, jitter: float, rng: float) -> float:
    """``delay`` moved by up to ±``jitter`` of itself; ``rng`` in [0, 1) picks where."""
    return max(0.0, delay * (1.0 + jitter * (2.0 * rng - 1.0)))


def decide(
    policy: DeliveryPolicy, result: AttemptResult, attempt: int, now: float, rng: float
) -> Decision:
    """``attempt`` is the 1-based number of the attempt that produced ``result``."""
    status = result.status_code
    if result.succeeded:
        if status is None:
            return Decision("delivered", None, "the broker confirmed it")
        return Decision("delivered", None, f"receiver answered {status}")
    if status == 410:
        return Decision("gone", None, "receiver answered 410 Gone: no more attempts")
    if result.error in _HOPELESS_ERRORS:
        return Decision("dead", None, f"{result.error}: retrying cannot help")
    if (
        policy.fast_connect_retry
        and attempt == 1
        and result.connect_failed
        and result.latency_ms < 1000
        and policy.max_attempts > 1
    ):
        return Decision("retry", now, "connection failed fast: one immediate retry")
    if attempt >= policy.max_attempts:
        return Decision("dead", None, f"{attempt} attempts failed; the schedule is spent")
    delay = jittered(policy.schedule[attempt], policy.jitter, rng)
    reason = _describe(result)
    if result.retry_after_s is not None:
        retry_after = min(result.retry_after_s, policy.max_retry_after_s)
        if retry_after > delay:
            delay = retry_after
            reason += f"; Retry-After {retry_after:g} s"
    return Decision("retry", now + delay, reason)


def _describe(result: AttemptResult) -> str:
    if result.status_code is None:
        return result.error or "no response"
    if 300 <= result.status_code < 400:
        return f"redirect {result.status_code} (not followed)"
    return f"receiver answered {result.status_code}"


def backoff(base_s: float, attempt: int, cap_s: float, rng: float) -> float:
    """Exponential backoff with ±50 % jitter: ``base·2^(attempt-1)``, capped at ``cap_s``."""
    delay = min(cap_s, base_s * (2.0 ** max(0, attempt - 1)))
    return min(cap_s, jittered(delay, 0.5, rng))


class SubmissionBackoff(msgspec.Struct, frozen=True):
    """When a refused submission is tried again: ``base_s·2^(attempt-1)`` with ±50 % jitter,
    at most ``cap_s``; a longer ``Retry-After`` wins, up to ``max_retry_after_s``."""

    base_s: float = 2.0
    cap_s: float = 300.0
    max_retry_after_s: float = 3600.0

    def next_at(
        self,
        attempt: int,
        *,
        now: float,
        rng: float,
        retry_after_s: float | None,
        deadline_at: float,
    ) -> float:
        """The time of the next submission after refused attempt number ``attempt``."""
        delay = backoff(self.base_s, attempt, self.cap_s, rng)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return min(now + delay, deadline_at)


def poll_error_backoff(consecutive_errors: int, *, floor_s: float, ceiling_s: float) -> float:
    """The least wait before the next poll after ``consecutive_errors`` failed polls in a row:
    doubling from the poll floor, at most four times the ceiling (0 without errors)."""
    if consecutive_errors <= 0:
        return 0.0
    return min(ceiling_s * 4, floor_s * 2.0**consecutive_errors)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (Unix seconds): delay-seconds or an HTTP-date.

    Anything else (negative or fractional numbers, dates without a zone) is ignored: None.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP-dates are always GMT
        return None
    return max(0.0, when.timestamp() - now)
