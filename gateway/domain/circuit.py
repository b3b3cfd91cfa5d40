"""A circuit breaker per client and callback destination (scheme, host and port).

After ``failures_to_open`` failed attempts in a row of one client to one destination, that
circuit opens: the client's deliveries claimed for the destination are given back, due when
the circuit may close again, without an attempt and without holding a worker slot. Another
client's deliveries to the same destination are not held back by it: many clients share a
receiver host (every Zapier hook is on one), and one tenant's failing receivers say nothing of
another's. Only when ``clients_to_open`` clients' circuits to one destination are open at once
is the destination taken to be down for every client (``host_down_until``).

The open time follows the delivery retry schedule (5 s, 5 min, 30 min, …, capped), one step
further each time the circuit opens again. When it has passed, one delivery is let through as a
probe (half-open); the others wait for its answer. A probe that succeeds closes the circuit;
one that fails opens it for the next step.

What counts as a failure is what says the destination itself is unwell: no answer (connect
error, timeout, reset), a 5xx, or 429. Any other answer (2xx, 4xx, a redirect) is the receiver
speaking, so the destination is up. A broker's confirm is a success, and its refusal of one
message (``BROKER_REFUSALS``: unroutable, no stream, too large, …) is the broker speaking.

The breaker only defers: it never kills a delivery nor disables a destination. A delivery dies
by its own attempts (the retry schedule), probes included. (Svix, by contrast, disables an
endpoint after it has failed for five days; our destinations are per job, so there is nothing
lasting to disable, and a subscription ends only when its target answers 410.)

Pure: times come in, decisions come out; the table of circuits is a plain dict owned by the
caller (one per worker process, so each replica learns on its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from gateway.domain.delivery import BROKER_REFUSALS, AttemptResult


class BreakerPolicy(msgspec.Struct, frozen=True):
    failures_to_open: int = 5
    # How many clients' circuits to one destination, open at once, make it down for everyone.
    clients_to_open: int = 3
    # How long an open circuit stays open, by how many times it opened in a row (the last
    # entry repeats): the delivery retry schedule after its immediate first attempt.
    open_for_s: tuple[float, ...] = (5.0, 300.0, 1800.0, 3600.0)
    # While a probe is out, the other deliveries of the destination come back this much later.
    probe_wait_s: float = 5.0


class Circuit(msgspec.Struct, frozen=True):
    failures: int = 0  # failed attempts in a row
    trips: int = 0  # times opened without a success in between
    open_until: float | None = None
    probing: bool = False  # half-open: one attempt is out


class Admission(msgspec.Struct, frozen=True):
    verdict: Literal["send", "probe", "defer"]
    until: float | None = None  # for "defer": when the delivery is due again


def is_failure(result: AttemptResult) -> bool:
    """Whether an attempt's result says the destination is unwell (see the module's text)."""
    status = result.status_code
    if result.succeeded:
        return False
    if status is None:  # the guard refused, or a broker refused one message: not its health
        return result.error != "blocked_address" and result.error not in BROKER_REFUSALS
    return status >= 500 or status == 429


def admit(policy: BreakerPolicy, circuit: Circuit, now: float) -> tuple[Admission, Circuit]:
    """May an attempt go to this destination now? Returns the answer and the circuit after it."""
    if circuit.open_until is None:
        return Admission("send"), circuit
    if now < circuit.open_until:
        return Admission("defer", circuit.open_until), circuit
    if circuit.probing:
        return Admission("defer", now + policy.probe_wait_s), circuit
    return Admission("probe"), msgspec.structs.replace(circuit, probing=True)


def after_attempt(
    policy: BreakerPolicy, circuit: Circuit, result: AttemptResult, now: float
) -> Circuit:
    """The circuit once an attempt to its destination has answered (or failed)."""
    if not is_failure(result):
        return Circuit()
    failures = circuit.failures + 1
    if circuit.probing or (circuit.open_until is None and failures >= policy.failures_to_open):
        step = policy.open_for_s[min(circuit.trips, len(policy.open_for_s) - 1)]
        return Circuit(failures=failures, trips=circuit.trips + 1, open_until=now + step)
    return msgspec.structs.replace(circuit, failures=failures)


def probe_abandoned(circuit: Circuit) -> Circuit:
    """The probe ended without an answer of the destination's (its work failed, or was given
    back): the next claimed delivery may probe instead."""
    return msgspec.structs.replace(circuit, probing=False)


def host_down_until(policy: BreakerPolicy, circuits: Iterable[Circuit], now: float) -> float | None:
    """Until when a destination is down for every client, given its clients' circuits: when
    ``clients_to_open`` of them are open (or half-open) at once, until the first of them may
    probe it again (a half-open one: a probe's wait); else None."""
    opened = [c for c in circuits if c.open_until is not None]
    if len(opened) < policy.clients_to_open:
        return None
    waiting = [c.open_until for c in opened if c.open_until is not None and c.open_until > now]
    return min(waiting) if len(waiting) == len(opened) else now + policy.probe_wait_s
