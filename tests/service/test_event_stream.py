"""The event stream over a job's history: every row once, in id order, resumable, ending when
the job has ended and its rows are out — whichever replica wrote them (it only reads)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from gateway.service import event_stream
from gateway.service.event_stream import Frame, HistoryRow, job_event_frames
from gateway.service.waiting import JobWaiters
from gateway.testing.waiting import wait_for_async


class Row(msgspec.Struct, frozen=True):
    id: int
    kind: str
    job_id: str = "job_1"
    at: float = 1_800_000_000.0
    status: str = "queued"
    upstream_status: str | None = None
    polls: int = 0
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class FakeHistory:
    """Rows a test adds (in any commit order) and whether the job has ended."""

    def __init__(self, rows: Sequence[Row] = ()) -> None:
        self.rows = list(rows)
        self.ended = False
        self.fetches = 0

    async def polled(self, times: int) -> None:
        """Wait until the stream has read the history ``times`` more times."""
        target = self.fetches + times
        await wait_for_async(lambda: self.fetches >= target, timeout_s=5, what="stream rounds")

    async def fetch(self, after: int) -> Sequence[HistoryRow]:
        self.fetches += 1
        return sorted((r for r in self.rows if r.id > after), key=lambda r: r.id)[
            : event_stream.BATCH
        ]

    async def has_ended(self) -> bool:
        return self.ended


async def collect(history: FakeHistory, waiters: JobWaiters, after: int = 0) -> list[Frame]:
    frames = job_event_frames(
        "job_1",
        after_id=after,
        fetch=history.fetch,
        has_ended=history.has_ended,
        waiters=waiters,
        poll_s=0.01,
    )
    return [frame async for frame in frames]


LIFE = [
    Row(1, "accepted"),
    Row(2, "submitted"),
    Row(5, "upstream_status", upstream_status="generating"),
    Row(9, "completed", status="completed"),
    Row(12, "delivery_attempted", status="completed", data={"status_code": 200}),
]


async def test_a_finished_jobs_stream_sends_every_row_then_ends() -> None:
    history = FakeHistory(LIFE)
    history.ended = True
    frames = await collect(history, JobWaiters())
    assert [(1, "accepted"), (2, "submitted"), (5, "upstream_status"), (9, "completed"),
            (12, "delivery_attempted")] == [(f.id, f.kind) for f in frames]  # fmt: skip
    first = json.loads(frames[2].json)
    assert ("job_1", "generating", "2027-01-15T08:00:00.000Z") == (
        first["job_id"],
        first["upstream_status"],
        first["at"],
    )


async def test_resuming_after_an_id_sends_only_the_rest() -> None:
    history = FakeHistory(LIFE)
    history.ended = True
    assert [9, 12] == [f.id for f in await collect(history, JobWaiters(), after=5)]
    assert [] == await collect(history, JobWaiters(), after=12)


async def test_a_live_stream_follows_the_job_until_it_ends() -> None:
    """Rows written while the stream is open arrive; the end wakes it at once."""
    history = FakeHistory(LIFE[:2])
    waiters = JobWaiters()
    task = asyncio.ensure_future(collect(history, waiters))
    await history.polled(2)  # the stream is polling, with nothing new
    assert not task.done()
    history.rows += LIFE[2:4]
    history.ended = True
    waiters.job_ended("job_1")
    frames = await asyncio.wait_for(task, timeout=5)
    assert [1, 2, 5, 9] == [f.id for f in frames]


async def test_a_row_committed_late_below_the_highest_id_is_not_lost() -> None:
    """PostgreSQL: two writers commit out of id order; the lower id still goes out once."""
    history = FakeHistory([Row(1, "accepted"), Row(9, "completed", status="completed")])
    waiters = JobWaiters()
    task = asyncio.ensure_future(collect(history, waiters))
    await history.polled(2)
    history.rows.append(Row(7, "delivery_attempted"))  # committed after 9 was read
    await history.polled(2)
    history.ended = True
    frames = await asyncio.wait_for(task, timeout=5)
    assert [1, 9, 7] == [f.id for f in frames]


async def test_long_histories_are_read_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "BATCH", 3)
    history = FakeHistory([Row(i, "upstream_status") for i in range(1, 11)])
    history.ended = True
    assert list(range(1, 11)) == [f.id for f in await collect(history, JobWaiters())]


async def test_a_quiet_stream_sends_keepalives() -> None:
    history = FakeHistory(LIFE[:1])
    waiters = JobWaiters()
    frames = job_event_frames(
        "job_1",
        after_id=0,
        fetch=history.fetch,
        has_ended=history.has_ended,
        waiters=waiters,
        poll_s=0.01,
        keepalive_s=0.02,
    )
    got = [await anext(frames), await asyncio.wait_for(anext(frames), timeout=5)]
    await frames.aclose()
    assert [1, None] == [f.id for f in got]
    assert [] == waiters.waiting  # closing the stream (a disconnect) unregisters it
