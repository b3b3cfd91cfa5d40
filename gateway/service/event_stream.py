"""A job's stored history as a stream of events (``GET /v1/jobs/{id}/events``, SSE).

The stream reads the database only (``store.history``), so it works whichever replica changes
the job: each round fetches the rows after the last one sent; between rounds it waits
``poll_s``, or less when this process learns that the job ended (``JobWaiters``). It ends once
the job has ended and every row recorded so far (the terminal one, and delivery attempts already
made) has been sent. No database connection is held between rounds, and a caller who hangs up
never cancels a read half-way (``gateway.service.hangups``).

Resuming: the caller passes the last row id it received (``Last-Event-ID``); the stream sends
every row after it, in id order (a row committed late, below the highest id already sent, is
still sent when it appears).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import msgspec

from gateway.clock import iso
from gateway.service.hangups import finish_anyway
from gateway.service.ports import HistoryRow
from gateway.service.waiting import JobWaiters

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream
BATCH = 500


class StreamEvent(msgspec.Struct, frozen=True):
    """The ``data:`` of one event: the history row as callers see it."""

    id: int
    job_id: str
    kind: str
    at: str | None
    status: str
    upstream_status: str | None
    polls: int
    data: dict[str, Any]


class Frame(msgspec.Struct, frozen=True):
    """What the HTTP layer writes: an event (id, kind, JSON) or, with ``id`` None, a keep-alive."""

    id: int | None
    kind: str | None = None
    json: str = ""


def stream_event(row: HistoryRow) -> StreamEvent:
    return StreamEvent(
        id=row.id,
        job_id=row.job_id,
        kind=row.kind,
        at=iso(row.at),
        status=row.status,
        upstream_status=row.upstream_status,
        polls=row.polls,
        data=row.data,
    )


Fetch = Callable[[int], Awaitable[Sequence[HistoryRow]]]


async def job_event_frames(
    job_id: str,
    *,
    after_id: int,
    fetch: Fetch,
    has_ended: Callable[[], Awaitable[bool]],
    waiters: JobWaiters,
    poll_s: float,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[Frame]:
    """Frames for every history row of ``job_id`` after ``after_id``, until the job has ended
    and all its rows are out. ``fetch(after)`` returns the next rows in id order."""
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    since, sent = after_id, set[int]()
    with waiters.watch(job_id) as ended:
        while True:
            # Read before the rows: if the job had ended by then, this fetch sees its terminal
            # row (committed with the status) and every attempt recorded so far.
            had_ended = await finish_anyway(has_ended)
            # From the resume point each round, skipping what was sent: on PostgreSQL two
            # concurrent writers (attempts to two destinations) may commit out of id order, and
            # a row that appears late below the highest id sent is still sent, not skipped.
            async for row in _unsent(fetch, since, sent):
                sent.add(row.id)
                yield Frame(id=row.id, kind=row.kind, json=_json(stream_event(row)))
                last_sent = loop.time()
            if had_ended:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), timeout=poll_s)
            if loop.time() - last_sent >= keepalive_s:
                yield Frame(id=None)
                last_sent = loop.time()


async def _unsent(fetch: Fetch, since: int, sent: set[int]) -> AsyncIterator[HistoryRow]:
    """Every row after ``since`` not sent yet, in id order, page by page."""
    after = since
    while True:
        page = await finish_anyway(functools.partial(fetch, after))
        for row in page:
            if row.id not in sent:
                yield row
        if len(page) < BATCH:
            return
        after = page[-1].id


def _json(event: StreamEvent) -> str:
    return msgspec.json.encode(event).decode()
