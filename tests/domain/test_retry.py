"""The webhook retry decision, as a table, with fixed time and randomness."""

from __future__ import annotations

import pytest

from gateway.domain.delivery import AttemptResult
from gateway.domain.retry import (
    DeliveryPolicy,
    SubmissionBackoff,
    backoff,
    decide,
    jittered,
    parse_retry_after,
    poll_error_backoff,
)

POLICY = DeliveryPolicy(schedule=(0, 5, 300, 1800), jitter=0.2)
NOW = 1000.0


def result(status: int | None, **fields: object) -> AttemptResult:
    return AttemptResult(status_code=status, latency_ms=50.0, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt_result", "attempt", "expected"),
    [
        (result(200), 1, ("delivered", None)),
        (result(204), 3, ("delivered", None)),
        (result(410), 1, ("gone", None)),
        (result(302, error="redirect"), 1, ("retry", NOW + 5)),
        (result(500), 1, ("retry", NOW + 5)),
        (result(500), 2, ("retry", NOW + 300)),
        (result(500), 4, ("dead", None)),
        (result(429, retry_after_s=60), 1, ("retry", NOW + 60)),
        (result(503, retry_after_s=1), 2, ("retry", NOW + 300)),
        (result(None, error="timeout"), 2, ("retry", NOW + 300)),
        (result(None, error="blocked_address"), 1, ("dead", None)),
        (result(None, error="connect_error", connect_failed=True), 1, ("retry", NOW)),
        (result(None, error="connect_error", connect_failed=True), 2, ("retry", NOW + 300)),
        # Brokers: a confirm is a delivery without a status code; their failures have codes.
        (result(None, acknowledged=True), 1, ("delivered", None)),
        (result(None, error="unroutable"), 1, ("retry", NOW + 5)),
        (result(None, error="no_stream"), 2, ("retry", NOW + 300)),
        (result(None, error="connection_lost"), 1, ("retry", NOW + 5)),
        (result(None, error="broker_unreachable", connect_failed=True), 1, ("retry", NOW)),
        (result(None, error="message_too_large"), 1, ("dead", None)),
        (result(None, error="invalid_target"), 1, ("dead", None)),
    ],
)
def test_decisions(
    attempt_result: AttemptResult, attempt: int, expected: tuple[str, float | None]
) -> None:
    """rng=0.5 means no jitter: the schedule's own delays, Retry-After when longer."""
    decision = decide(POLICY, attempt_result, attempt, NOW, 0.5)
    assert expected == (decision.kind, decision.next_at)


def test_a_broker_confirm_is_said_as_such() -> None:
    decision = decide(POLICY, result(None, acknowledged=True), 1, NOW, 0.5)

    assert "the broker confirmed it" == decision.reason


def test_jitter_stays_within_twenty_percent() -> None:
    """rng at its extremes moves a 300 s delay to 240 s and just under 360 s (±20 %)."""
    assert (240.0, pytest.approx(359.88)) == (
        jittered(300, 0.2, 0.0),
        jittered(300, 0.2, 0.999),
    )


def test_a_slow_connect_failure_gets_no_immediate_retry() -> None:
    """Svix's immediate retry is only for connections that failed within a second."""
    slow = AttemptResult(status_code=None, latency_ms=4000.0, error="timeout", connect_failed=True)
    assert NOW + 5 == decide(POLICY, slow, 1, NOW, 0.5).next_at


def test_backoff_grows_and_is_capped() -> None:
    """base·2^(n-1) with ±50 % jitter (none at rng 0.5), never above the cap."""
    assert [2.0, 4.0, 8.0, 16.0, 20.0] == [backoff(2.0, n, 20.0, 0.5) for n in range(1, 6)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 100.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    """Seconds or an HTTP date; anything else is ignored."""
    assert expected == parse_retry_after(value, 1445412380.0)  # 100 s before that date


def test_a_refused_submission_backs_off_and_honours_retry_after_within_the_deadline() -> None:
    """Doubling from 2 s (the middle of the jitter), at most 5 minutes; a longer Retry-After
    wins up to an hour; never past the job's deadline."""
    policy = SubmissionBackoff()
    far = 10_000.0

    def at(attempt: int, retry_after_s: float | None = None, deadline_at: float = far) -> float:
        return policy.next_at(
            attempt, now=0.0, rng=0.5, retry_after_s=retry_after_s, deadline_at=deadline_at
        )

    assert [2.0, 4.0, 8.0, 300.0] == [at(1), at(2), at(3), at(20)]
    assert 120.0 == at(1, retry_after_s=120.0)
    assert 3600.0 == at(1, retry_after_s=86_400.0, deadline_at=far * 10)
    assert 50.0 == at(1, retry_after_s=120.0, deadline_at=50.0)


def test_polls_after_errors_wait_longer_up_to_four_ceilings() -> None:
    assert [0.0, 4.0, 8.0, 16.0, 120.0] == [
        poll_error_backoff(n, floor_s=2.0, ceiling_s=30.0) for n in (0, 1, 2, 3, 10)
    ]
