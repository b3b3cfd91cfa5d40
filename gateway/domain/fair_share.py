"""Which due webhook deliveries one claim takes: in due order, each client within its share,
each destination (scheme, host, port) within its cap, each client within its own cap at a
destination, a destination's room going to the client with the fewest attempts out there; and
whether any was held back.

The store selects the candidates (each client's first few due rows, in due order) and leases the
ones picked here; the worker counts what is out and so how much room each client and destination
has left. Picking in one pass over one order is what keeps the two limits from costing each
other rows: a client whose first rows go to a full destination gets its next rows instead.

``held_back`` says more is due than this claim let out (a share, a cap or the claim's own limit
stopped it): the worker claims again once a slot frees. ``filled`` says the limit (the free
slots) stopped it: more slots would have been used, so polls give up some of theirs meanwhile.
"""

from __future__ import annotations

import functools
import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from gateway.domain.broker_targets import DEFAULT_PORTS


@functools.lru_cache(maxsize=4096)  # callback URLs repeat; a claim looks at dozens at a time
def destination(url: str) -> str:
    """Where a webhook goes, for the per-destination cap and the breaker: scheme, host and port,
    with each scheme's own default port (a broker's too: ``nats://h`` is ``nats://h:4222``)."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class Candidate(NamedTuple):
    """A due, unleased delivery as the claim sees it."""

    id: str
    client_id: str
    url: str


class InvalidHostLimit(ValueError):
    """An entry of ``GATEWAY_DELIVERY_HOST_LIMITS`` that is not ``host[:port]=N`` with N ≥ 1."""


@dataclass(frozen=True)
class HostLimits:
    """Caps of attempts out at once to hosts configured apart (``GATEWAY_DELIVERY_HOST_LIMITS``,
    e.g. ``hooks.zapier.com=64``): by ``host:port`` first, then by host (every port)."""

    by_host: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> HostLimits:
        limits: dict[str, int] = {}
        for entry in entries:
            name, sep, number = entry.strip().rpartition("=")
            name = name.strip().lower()
            try:
                cap = int(number)
            except ValueError:
                cap = 0
            if not sep or not name or cap < 1 or "/" in name or " " in name:
                raise InvalidHostLimit(f"expected host[:port]=N with N >= 1, got {entry!r}")
            limits[name] = cap
        return cls(limits)

    def get(self, target: str) -> int | None:
        """The configured cap of ``target`` (a ``destination()``), if it has one."""
        host_port = target.partition("://")[2]
        host = host_port.rpartition(":")[0]
        found = self.by_host.get(host_port)
        return found if found is not None else self.by_host.get(host)


@dataclass(frozen=True)
class Rooms:
    """How many more deliveries may go out: to each client (``per_client`` for one with none
    out, ``client_room`` for those with some), to each destination (its cap, ``per_destination``
    unless ``host_limits`` says otherwise, for one with none out; ``destination_room`` for
    those with some), and to each destination for one client (``client_destination_room`` where
    the client has some out there; else its cap there, ``client_cap``)."""

    per_client: int
    per_destination: int
    client_room: Mapping[str, int] = field(default_factory=dict)
    destination_room: Mapping[str, int] = field(default_factory=dict)
    host_limits: HostLimits = field(default_factory=HostLimits)
    client_destination_room: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # A client's cap at one destination: None, the destination's own cap; 0, one less than it
    # (at least 1), so that another client always finds room there; else at most this many.
    per_client_destination: int | None = None

    def cap(self, target: str) -> int:
        """The most attempts out to ``target`` at once, every client's together."""
        configured = self.host_limits.get(target)
        return self.per_destination if configured is None else configured

    @property
    def largest_cap(self) -> int:
        """The largest cap of any destination (how many of one URL's rows a claim may use)."""
        return max([self.per_destination, *self.host_limits.by_host.values()])

    def client_cap(self, target: str) -> int:
        """The most attempts out to ``target`` at once for one client."""
        cap = self.cap(target)
        if self.per_client_destination is None:
            return cap
        own = self.per_client_destination or cap - 1
        return max(1, min(own, cap))


@dataclass(frozen=True)
class Picked:
    ids: list[str]
    held_back: bool  # a due candidate was left for lack of room
    filled: bool = False  # the limit was reached with candidates left


class _Pick:
    """The state of one pick: what each client and destination has left, and the queues."""

    def __init__(self, candidates: list[Candidate], rooms: Rooms) -> None:
        self.rooms = rooms
        self.client_room = dict(rooms.client_room)
        self.destination_room = dict(rooms.destination_room)
        self.client_destination_room = dict(rooms.client_destination_room)
        # Each client's candidates at each destination, in due order (their index in it).
        self.queues: dict[tuple[str, str], deque[int]] = {}
        self.targets = [destination(c.url) for c in candidates]
        # Per destination, the clients due there: (out there, index of their next, client).
        self.heaps: dict[str, list[tuple[int, int, str]]] = {}
        for index, candidate in enumerate(candidates):
            key = (candidate.client_id, self.targets[index])
            queue = self.queues.get(key)
            if queue is None:
                queue = self.queues[key] = deque()
                self.heaps.setdefault(key[1], [])
            queue.append(index)
        for (client, target), queue in self.queues.items():
            self.heaps[target].append((self.out(client, target), queue[0], client))
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def room_at(self, target: str) -> int:
        return self.destination_room.get(target, self.rooms.cap(target))

    def client_room_at(self, client: str, target: str) -> int:
        key = (client, target)
        return self.client_destination_room.get(key, self.rooms.client_cap(target))

    def out(self, client: str, target: str) -> int:
        """Attempts of ``client`` out to ``target`` (what its room there says)."""
        return self.rooms.client_cap(target) - self.client_room_at(client, target)

    def best_at(self, target: str) -> tuple[int, str] | None:
        """The next candidate for ``target``: of the clients with room due there, the one with
        the fewest attempts out to it, ties to the earliest due; (its index, client)."""
        heap = self.heaps[target]
        while heap:
            out, index, client = heap[0]
            queue = self.queues[(client, target)]
            has_room = (
                self.client_room.get(client, self.rooms.per_client) > 0
                and self.client_room_at(client, target) > 0
            )
            if not queue or not has_room:  # rooms only shrink during a pick: drop it
                heapq.heappop(heap)
                continue
            fresh = (self.out(client, target), queue[0], client)
            if fresh != (out, index, client):
                heapq.heapreplace(heap, fresh)
                continue
            return index, client
        return None

    def take(self, client: str, target: str) -> int:
        index = self.queues[(client, target)].popleft()
        self.client_room[client] = self.client_room.get(client, self.rooms.per_client) - 1
        self.destination_room[target] = self.room_at(target) - 1
        self.client_destination_room[(client, target)] = self.client_room_at(client, target) - 1
        return index


def pick(candidates: Iterable[Candidate], limit: int, rooms: Rooms) -> Picked:
    """Up to ``limit`` of ``candidates`` (given in due order) that fit the rooms.

    Across destinations, the earliest due goes first. At one destination, room goes to the
    client with the fewest attempts out there (ties: the earliest due), so no client holds a
    shared host while others wait, and one client's slow answers do not make the others' wait
    grow."""
    due = list(candidates)
    state = _Pick(due, rooms)
    # The destinations with room, by the index of their next candidate (entries may be stale:
    # each is checked when it comes up).
    ready = []
    for target in state.heaps:
        best = state.best_at(target) if state.room_at(target) > 0 else None
        if best is not None:
            ready.append((best[0], target))
    heapq.heapify(ready)
    ids: list[str] = []
    while ready and len(ids) < limit:
        index, target = heapq.heappop(ready)
        best = state.best_at(target) if state.room_at(target) > 0 else None
        if best is None:
            continue
        if best[0] != index:
            heapq.heappush(ready, (best[0], target))
            continue
        ids.append(due[state.take(best[1], target)].id)
        following = state.best_at(target) if state.room_at(target) > 0 else None
        if following is not None:
            heapq.heappush(ready, (following[0], target))
    left = len(due) - len(ids)
    return Picked(ids, held_back=left > 0, filled=left > 0 and len(ids) >= limit)
