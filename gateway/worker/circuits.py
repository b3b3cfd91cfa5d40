"""This process's circuit breakers, one per callback destination (``gateway.domain.circuit``).

Only destinations with something to remember are kept: a circuit back to closed with no
failures is dropped, so the table stays as small as the set of unwell destinations.
"""

from __future__ import annotations

from gateway.domain.circuit import (
    Admission,
    BreakerPolicy,
    Circuit,
    admit,
    after_attempt,
    probe_abandoned,
)
from gateway.domain.delivery import AttemptResult

_CLOSED = Circuit()


class Circuits:
    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._table: dict[str, Circuit] = {}

    def admit(self, destination: str, now: float) -> Admission:
        """May an attempt go to ``destination`` now (``send``, ``probe``), or when (``defer``)."""
        admission, after = admit(self.policy, self._table.get(destination, _CLOSED), now)
        self._put(destination, after)
        return admission

    def record(self, destination: str, result: AttemptResult, now: float) -> None:
        """An attempt to ``destination`` ended with ``result``."""
        circuit = self._table.get(destination, _CLOSED)
        self._put(destination, after_attempt(self.policy, circuit, result, now))

    def abandon(self, destination: str) -> None:
        """An attempt to ``destination`` ended without a result (its work failed)."""
        circuit = self._table.get(destination)
        if circuit is not None and circuit.probing:
            self._put(destination, probe_abandoned(circuit))

    def open_count(self) -> int:
        """Destinations whose circuit is open or half-open."""
        return sum(1 for c in self._table.values() if c.open_until is not None)

    def _put(self, destination: str, circuit: Circuit) -> None:
        if circuit == _CLOSED:
            self._table.pop(destination, None)
        else:
            self._table[destination] = circuit
