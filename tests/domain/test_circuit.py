"""The circuit breaker per callback destination: when it opens, defers, probes and closes."""

from __future__ import annotations

from gateway.domain.circuit import (
    BreakerPolicy,
    Circuit,
    admit,
    after_attempt,
    is_failure,
    probe_abandoned,
)
from gateway.domain.delivery import AttemptResult

POLICY = BreakerPolicy(failures_to_open=3, open_for_s=(5.0, 300.0, 1800.0), probe_wait_s=5.0)
T0 = 1_800_000_000.0
FAILED = AttemptResult(status_code=503, latency_ms=3.0)
TIMED_OUT = AttemptResult(status_code=None, latency_ms=15_000.0, error="timeout")
OK = AttemptResult(status_code=200, latency_ms=3.0)


def failed_times(n: int, circuit: Circuit | None = None, at: float = T0) -> Circuit:
    circuit = circuit or Circuit()
    for _ in range(n):
        circuit = after_attempt(POLICY, circuit, FAILED, at)
    return circuit


def test_what_says_a_destination_is_unwell() -> None:
    assert is_failure(FAILED)
    assert is_failure(TIMED_OUT)
    assert is_failure(AttemptResult(status_code=429, latency_ms=1.0))
    assert not is_failure(OK)
    assert not is_failure(AttemptResult(status_code=404, latency_ms=1.0))  # the receiver spoke
    assert not is_failure(AttemptResult(status_code=302, latency_ms=1.0))
    # The guard refused the address: that says nothing about the host's health.
    assert not is_failure(AttemptResult(status_code=None, latency_ms=0.1, error="blocked_address"))


def test_what_says_a_broker_is_unwell() -> None:
    """A confirm is a success and a refusal of one message is the broker speaking; no
    connection, a lost one or no confirm in time say it is unwell."""

    def broker(error: str | None) -> AttemptResult:
        return AttemptResult(status_code=None, latency_ms=1.0, error=error, acknowledged=not error)

    assert {
        None: False,
        "unroutable": False,
        "no_stream": False,
        "message_too_large": False,
        "broker_auth_failed": False,
        "broker_unreachable": True,
        "connection_lost": True,
        "timeout": True,
    } == {
        error: is_failure(broker(error))
        for error in (
            None,
            "unroutable",
            "no_stream",
            "message_too_large",
            "broker_auth_failed",
            "broker_unreachable",
            "connection_lost",
            "timeout",
        )
    }


def test_the_circuit_opens_after_the_threshold_of_failures_in_a_row() -> None:
    assert failed_times(2).open_until is None
    assert "send" == admit(POLICY, failed_times(2), T0)[0].verdict
    opened = failed_times(3)
    assert (T0 + 5.0, 1) == (opened.open_until, opened.trips)


def test_an_answer_in_between_resets_the_count() -> None:
    circuit = after_attempt(POLICY, failed_times(2), OK, T0)
    assert Circuit() == circuit
    assert failed_times(2, circuit).open_until is None


def test_an_open_circuit_defers_until_it_may_close() -> None:
    opened = failed_times(3)
    admission, after = admit(POLICY, opened, T0 + 1)
    assert ("defer", T0 + 5.0) == (admission.verdict, admission.until)
    assert after == opened


def test_after_the_open_time_one_probe_goes_and_the_rest_wait_for_it() -> None:
    opened = failed_times(3)
    first, probing = admit(POLICY, opened, T0 + 5)
    second, _ = admit(POLICY, probing, T0 + 6)
    assert "probe" == first.verdict
    assert ("defer", T0 + 6 + POLICY.probe_wait_s) == (second.verdict, second.until)


def test_a_probe_that_succeeds_closes_the_circuit() -> None:
    _, probing = admit(POLICY, failed_times(3), T0 + 5)
    assert Circuit() == after_attempt(POLICY, probing, OK, T0 + 6)


def test_a_probe_that_fails_opens_it_for_the_next_step_of_the_schedule() -> None:
    _, probing = admit(POLICY, failed_times(3), T0 + 5)
    reopened = after_attempt(POLICY, probing, TIMED_OUT, T0 + 20)
    assert (T0 + 20 + 300.0, 2, False) == (reopened.open_until, reopened.trips, reopened.probing)
    _, probing = admit(POLICY, reopened, T0 + 400)
    again = after_attempt(POLICY, probing, FAILED, T0 + 400)
    _, probing = admit(POLICY, again, T0 + 400 + 1800)
    last = after_attempt(POLICY, probing, FAILED, T0 + 3000)
    assert T0 + 3000 + 1800.0 == last.open_until  # the last step repeats


def test_late_failures_of_attempts_already_out_do_not_reopen_it_for_longer() -> None:
    opened = failed_times(3)
    assert opened.open_until == after_attempt(POLICY, opened, FAILED, T0 + 2).open_until


def test_an_abandoned_probe_lets_the_next_delivery_probe() -> None:
    _, probing = admit(POLICY, failed_times(3), T0 + 5)
    assert "probe" == admit(POLICY, probe_abandoned(probing), T0 + 6)[0].verdict
