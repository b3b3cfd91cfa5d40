"""Helpers for tests that use the mock: a fake clock, a loopback server, a journal reader."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from litestar import Litestar


class FakeClock:
    """A clock that moves only when told to (share it between the mock and the gateway)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, t: float) -> None:
        with self._lock:
            self._now = t


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MockServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread.

    ``with MockServer(app) as server: server.url`` — stops cleanly on exit.
    """

    def __init__(
        self, app: Any, *, port: int | None = None, startup_timeout_s: float = 10.0
    ) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout_s = startup_timeout_s
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def __enter__(self) -> MockServer:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class Journal:
    """Read the mock's request journal, in-process (an app) or over HTTP (a URL)."""

    def __init__(self, source: Litestar | str) -> None:
        self.source = source

    def entries(self) -> list[dict[str, Any]]:
        if isinstance(self.source, str):
            response = httpx.get(f"{self.source}/__mock/requests", timeout=5)
            response.raise_for_status()
            entries: list[dict[str, Any]] = response.json()
            return entries
        return list(self.source.state.mock.journal)

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.entries() if method is None or e["method"] == method]

    def submissions(self) -> list[dict[str, Any]]:
        return self.requests("POST")

    def polls(self, generation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.requests("GET")
            if generation_id is None or e.get("generation_id") == generation_id
        ]

    def assert_no_violations(self) -> None:
        bad = [(e["method"], e["violations"]) for e in self.entries() if e["violations"]]
        assert not bad, f"contract violations in the journal: {bad}"

    def reset(self) -> None:
        if isinstance(self.source, str):
            httpx.post(f"{self.source}/__mock/reset", timeout=5).raise_for_status()
        else:
            self.source.state.mock.reset()


@contextmanager
def serve(app: Any) -> Iterator[MockServer]:
    with MockServer(app) as server:
        yield server
