"""This process's circuit breakers, one per client and callback destination
(``gateway.domain.circuit``), and the destination-wide verdict when several clients' are open.

Only circuits with something to remember are kept: one back to closed with no failures is
dropped, so the table stays as small as the set of unwell (client, destination) pairs.
"""

from __future__ import annotations

from gateway.domain.circuit import (
    Admission,
    BreakerPolicy,
    Circuit,
    admit,
    after_attempt,
    host_down_until,
    probe_abandoned,
)
from gateway.domain.delivery import AttemptResult

_CLOSED = Circuit()


class Circuits:
    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._table: dict[str, dict[str, Circuit]] = {}  # destination → client → circuit

    def admit(self, client_id: str, destination: str, now: float) -> Admission:
        """May ``client_id``'s attempt go to ``destination`` now (``send``, ``probe``), or when
        (``defer``): its own circuit first, then the destination's state for every client."""
        circuits = self._table.get(destination, {})
        admission, after = admit(self.policy, circuits.get(client_id, _CLOSED), now)
        self._put(client_id, destination, after)
        if admission.verdict == "send":
            others = (c for client, c in circuits.items() if client != client_id)
            down_until = host_down_until(self.policy, others, now)
            if down_until is not None:
                return Admission("defer", down_until)
        return admission

    def record(self, client_id: str, destination: str, result: AttemptResult, now: float) -> None:
        """An attempt of ``client_id`` to ``destination`` ended with ``result``."""
        circuit = self._table.get(destination, {}).get(client_id, _CLOSED)
        self._put(client_id, destination, after_attempt(self.policy, circuit, result, now))

    def abandon(self, client_id: str, destination: str) -> None:
        """An attempt to ``destination`` ended without a result (its work failed)."""
        circuit = self._table.get(destination, {}).get(client_id)
        if circuit is not None and circuit.probing:
            self._put(client_id, destination, probe_abandoned(circuit))

    def open_count(self) -> int:
        """Circuits (client, destination) that are open or half-open."""
        return sum(
            1
            for circuits in self._table.values()
            for circuit in circuits.values()
            if circuit.open_until is not None
        )

    def _put(self, client_id: str, destination: str, circuit: Circuit) -> None:
        circuits = self._table.setdefault(destination, {})
        if circuit == _CLOSED:
            circuits.pop(client_id, None)
            if not circuits:
                del self._table[destination]
        else:
            circuits[client_id] = circuit
