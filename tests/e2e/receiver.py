"""A webhook receiver for tests: records every request, answers from a script (200 by default)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    statuses: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Litestar:
        @post("/hook", status_code=200)
        async def hook(request: Request[Any, Any, Any]) -> Response[bytes]:
            body = await request.body()
            with self.lock:
                self.received.append(
                    Received(body, {k.lower(): v for k, v in request.headers.items()})
                )
                status = self.statuses.popleft() if self.statuses else 200
            return Response(b"ok", status_code=status, media_type="text/plain")

        return Litestar(route_handlers=[hook], logging_config=None, openapi_config=None)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]
