"""The delivery slots of one worker: which webhook attempts are out, by client and destination,
so that claims respect each client's share and each destination's cap.

A slot is taken when a claimed delivery starts and given back once (when its receiver has
answered, or when its task ends without an answer). No I/O: the worker asks it how much room
each client and URL has left, and tells it what started and what freed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from dataclasses import dataclass
from typing import TypeVar

from gateway.domain.fair_share import HostLimits, Rooms

K = TypeVar("K")


@dataclass(frozen=True)
class _Out:
    client_id: str
    destination: str


class DeliverySlots:
    def __init__(
        self,
        *,
        capacity: int,
        client_share: int,
        per_destination: int,
        host_limits: HostLimits | None = None,
        per_client_destination: int | None = None,
    ) -> None:
        """``per_destination`` caps every destination not in ``host_limits``;
        ``per_client_destination`` caps one client at one destination (see ``Rooms``)."""
        self.capacity = capacity
        self.client_share = client_share
        self.per_destination = per_destination
        self.host_limits = host_limits or HostLimits()
        self.per_client_destination = per_client_destination
        self._out: dict[asyncio.Task[None], _Out] = {}
        self._by_client: collections.Counter[str] = collections.Counter()
        self._by_destination: collections.Counter[str] = collections.Counter()
        self._by_client_destination: collections.Counter[tuple[str, str]] = collections.Counter()
        # Slots freed so far, and how many had been at the last claim.
        self._freed = 0
        self._freed_at_claim = 0

    def free(self) -> int:
        """Slots free now."""
        return self.capacity - len(self._out)

    def claiming(self) -> None:
        """A claim is made now (``freed_since_claim`` counts from here)."""
        self._freed_at_claim = self._freed

    @property
    def freed_since_claim(self) -> bool:
        return self._freed > self._freed_at_claim

    def rooms(self) -> Rooms:
        """How many more may go out to each client, each destination, and each client at each
        destination."""
        base = Rooms(
            per_client=self.client_share,
            per_destination=self.per_destination,
            host_limits=self.host_limits,
            per_client_destination=self.per_client_destination,
        )
        return dataclasses.replace(
            base,
            client_room={c: max(0, self.client_share - n) for c, n in self._by_client.items()},
            destination_room={d: max(0, base.cap(d) - n) for d, n in self._by_destination.items()},
            client_destination_room={
                (c, d): max(0, base.client_cap(d) - n)
                for (c, d), n in self._by_client_destination.items()
            },
        )

    def take(self, task: asyncio.Task[None], client_id: str, destination: str) -> None:
        self._out[task] = _Out(client_id, destination)
        self._by_client[client_id] += 1
        self._by_destination[destination] += 1
        self._by_client_destination[(client_id, destination)] += 1

    def give_back(self, task: asyncio.Task[None]) -> bool:
        """Free ``task``'s slot; False if it held none (or gave it back already)."""
        out = self._out.pop(task, None)
        if out is None:
            return False
        self._freed += 1
        _less(self._by_client, out.client_id)
        _less(self._by_destination, out.destination)
        _less(self._by_client_destination, (out.client_id, out.destination))
        return True


def _less(counter: collections.Counter[K], key: K) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
