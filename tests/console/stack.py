"""The whole product on loopback for browser tests: the mock upstream, a webhook receiver that
answers from a script, and the gateway with its real ticker. Also used to take the README's
screenshots (``docs/screenshots/take.py``)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, Response, post

from gateway.app import create_app
from gateway.settings import Settings
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.waiting import wait_for

CLIENT_KEY = "gw_browser_key_0123456789abcdef"
ADMIN_KEY = "browser-admin-key-0123456789"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Receiver:
    """Answers each webhook from ``answers`` ((status, body)), then 200 "ok"."""

    answers: deque[tuple[int, str]] = field(default_factory=deque)
    received: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Litestar:
        @post("/hook", status_code=200)
        async def hook(request: Request[Any, Any, Any]) -> Response[bytes]:
            body = await request.body()
            with self.lock:
                self.received.append(body)
                status, answer = self.answers.popleft() if self.answers else (200, "ok")
            return Response(answer.encode(), status_code=status, media_type="text/html")

        return Litestar(route_handlers=[hook], logging_config=None, openapi_config=None)


@dataclass
class Stack:
    url: str
    hook_url: str
    receiver: Receiver

    def submit(self, **fields: Any) -> str:
        body = {"prompt": "a horse", "duration": "5", "callback_url": self.hook_url, **fields}
        response = httpx.post(
            f"{self.url}/v1/jobs",
            json=body,
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            timeout=10,
        )
        assert 202 == response.status_code, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/v1/jobs/{job_id}",
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        return body

    def wait_for_delivery(self, job_id: str, state: str, *, timeout_s: float = 30) -> None:
        wait_for(
            lambda: (self.job(job_id).get("delivery") or {}).get("state") == state,
            timeout_s=timeout_s,
            what=f"the delivery of {job_id} to be {state}",
        )


@contextmanager
def running_stack(database: Path, **changes: Any) -> Iterator[Stack]:
    receiver = Receiver()
    with ExitStack() as stack:
        mock = stack.enter_context(MockServer(create_mock(MockConfig.fast())))
        hooks = stack.enter_context(MockServer(receiver.app()))
        settings = Settings(
            database_url=f"sqlite:///{database}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=CLIENT_KEY,
            client_webhook_secret=SECRET,
            admin_key=ADMIN_KEY,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.4,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
            delivery_schedule=(0.0, 0.2),
            delivery_jitter=0.0,
            log_level="WARNING",
        ).with_(**changes)
        gateway = stack.enter_context(MockServer(create_app(settings)))
        yield Stack(url=gateway.url, hook_url=f"{hooks.url}/hook", receiver=receiver)
