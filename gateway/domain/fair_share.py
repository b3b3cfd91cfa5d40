"""Which due webhook deliveries one claim takes: in due order, each client within its share and
each destination (scheme, host, port) within its cap, and whether any was held back.

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


@dataclass(frozen=True)
class Rooms:
    """How many more deliveries may go out: ``per_client`` to a client and ``per_destination``
    to a destination with none out, the counts given for those with some out."""

    per_client: int
    per_destination: int
    client_room: Mapping[str, int] = field(default_factory=dict)
    destination_room: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Picked:
    ids: list[str]
    held_back: bool  # a due candidate was left for lack of room
    filled: bool = False  # the limit was reached with candidates left


def pick(candidates: Iterable[Candidate], limit: int, rooms: Rooms) -> Picked:
    """Up to ``limit`` of ``candidates`` (in their order) that fit the rooms."""
    client_room = dict(rooms.client_room)
    destination_room = dict(rooms.destination_room)
    ids: list[str] = []
    held_back = False
    for candidate in candidates:
        if len(ids) >= limit:
            return Picked(ids, held_back=True, filled=True)
        target = destination(candidate.url)
        for_client = client_room.get(candidate.client_id, rooms.per_client)
        for_destination = destination_room.get(target, rooms.per_destination)
        if for_client <= 0 or for_destination <= 0:
            held_back = True
            continue
        client_room[candidate.client_id] = for_client - 1
        destination_room[target] = for_destination - 1
        ids.append(candidate.id)
    return Picked(ids, held_back)
