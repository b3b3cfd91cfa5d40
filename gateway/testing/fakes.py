"""Test doubles for the gateway's seams: a clock, a scripted upstream, a recording sender."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import FailureKind, Generation, UpstreamFailure, UpstreamResult


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def failure(kind: FailureKind, status: int | None = None, **extra: Any) -> UpstreamFailure:
    return UpstreamFailure(kind=kind, message=f"scripted {kind.value}", status_code=status, **extra)


class ScriptedUpstream:
    """Answers submits and polls from scripts; records every call."""

    def __init__(
        self,
        submits: Iterable[UpstreamResult] = (),
        polls: Iterable[UpstreamResult] = (),
        generation_id: str = "gen_scripted_000000001",
    ) -> None:
        self.submit_script: deque[UpstreamResult] = deque(submits)
        self.poll_script: deque[UpstreamResult] = deque(polls)
        self.generation_id = generation_id
        self.submitted: list[tuple[bytes, str]] = []
        self.polled: list[tuple[str, str]] = []
        self._called = asyncio.Event()

    async def wait_for_calls(self, *, submits: int = 0, polls: int = 0, timeout_s: float) -> None:
        """Until at least this many submits and polls were made (bounded by ``timeout_s``)."""

        async def reached() -> None:
            while len(self.submitted) < submits or len(self.polled) < polls:
                self._called.clear()
                await self._called.wait()

        await asyncio.wait_for(reached(), timeout=timeout_s)

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult:
        self.submitted.append((body, request_id))
        self._called.set()
        if self.submit_script:
            return self.submit_script.popleft()
        return Generation(id=self.generation_id, status="queued")

    async def fetch(self, generation_id: str, *, request_id: str) -> UpstreamResult:
        self.polled.append((generation_id, request_id))
        self._called.set()
        if self.poll_script:
            return self.poll_script.popleft()
        return Generation(id=generation_id, status="generating")


class RecordingSender:
    """Accepts webhooks with scripted status codes (200 once the script runs out)."""

    def __init__(self, statuses: Iterable[int | None] = ()) -> None:
        self.script: deque[int | None] = deque(statuses)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def send(self, url: str, body: bytes, headers: Any) -> AttemptResult:
        self.sent.append((url, body, dict(headers)))
        status = self.script.popleft() if self.script else 200
        if status is None:
            return AttemptResult(
                status_code=None, latency_ms=1.0, error="connect_error", connect_failed=True
            )
        return AttemptResult(status_code=status, latency_ms=1.0, response_excerpt="ok")


class AllowAllGuard:
    async def check_url(self, url: str) -> None:
        return None
