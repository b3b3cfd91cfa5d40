"""A webhook receiver on loopback for tests: records every request, answers from a script."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]  # lower-cased names


@dataclass
class Receiver:
    """Serves ``POST /hook``. Each webhook is answered from ``answers`` — a status code, or a
    (status, body) pair — and with 200 "ok" once the script runs out."""

    answers: deque[int | tuple[int, str]] = field(default_factory=deque)
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
                answer = self.answers.popleft() if self.answers else 200
            status, text = answer if isinstance(answer, tuple) else (answer, "ok")
            return Response(text.encode(), status_code=status, media_type="text/html")

        return Litestar(route_handlers=[hook], logging_config=None, openapi_config=None)

    def ids(self) -> list[str]:
        """The ``webhook-id`` of every request received, in order."""
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]
