"""The whole product on loopback, in this process: the mock upstream (fast timings, strict), a
webhook receiver, and the gateway with its real ticker and clock, each on a port of its own.

For tests of callers (the client, the CLI, the generated client), browser tests of the console
and the README's screenshots::

    with live_stack(tmp_path / "gateway.db") as stack:
        job_id = stack.submit(metadata={"order_id": "42"})
        stack.wait_for_delivery(job_id, "delivered")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.trace import TracerProvider

from gateway.app import Parts, create_app
from gateway.settings import Settings
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer, free_port

CLIENT_KEY = "gw_live_client_key_0123456789abcdef"
ADMIN_KEY = "gw_live_admin_key_0123456789abcdef"
# Standard Webhooks' published test secret: a fixed value for tests, never a real one.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105
UPSTREAM_KEY = "upstream-key"


@dataclass
class LiveStack:
    url: str  # the gateway
    key: str  # the bootstrap client's API key
    secret: str  # its webhook signing secret
    admin_key: str
    receiver: Receiver
    hook_url: str  # the receiver's URL, a valid callback
    settings: Settings
    database_path: Path

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def submit(self, **fields: Any) -> str:
        """A job with a callback to the receiver (fields override the defaults); its id."""
        body = {"prompt": "a horse", "duration": "5", "callback_url": self.hook_url, **fields}
        response = httpx.post(f"{self.url}/v1/jobs", json=body, headers=self.auth(), timeout=10)
        assert 202 == response.status_code, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers=self.auth(), timeout=10)
        body: dict[str, Any] = response.json()
        return body

    def wait_for_delivery(self, job_id: str, state: str, *, timeout_s: float = 30) -> None:
        wait_for(
            lambda: (self.job(job_id).get("delivery") or {}).get("state") == state,
            timeout_s=timeout_s,
            what=f"the delivery of {job_id} to be {state}",
        )


@contextmanager
def live_stack(
    database_path: Path,
    *,
    tracer_provider: TracerProvider | None = None,
    mock_config: dict[str, Any] | None = None,
    **changes: Any,
) -> Iterator[LiveStack]:
    """Start the three servers (stopped on exit); ``changes`` override the gateway's settings,
    ``mock_config`` the mock's ``MockConfig`` (a video link's TTL, a default scenario)."""
    receiver = Receiver()
    port = free_port()  # known before the settings: the kept videos' links name it
    with ExitStack() as servers:
        mock_app = create_mock(
            MockConfig.fast(strict=True, expected_key=UPSTREAM_KEY).with_(**(mock_config or {}))
        )
        mock = servers.enter_context(MockServer(mock_app))
        hooks = servers.enter_context(MockServer(receiver.app()))
        settings = Settings(
            port=port,
            database_url=f"sqlite:///{database_path}",
            upstream_url=mock.url,
            aimlapi_key=UPSTREAM_KEY,
            client_api_key=CLIENT_KEY,
            client_webhook_secret=SECRET,
            admin_key=ADMIN_KEY,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
            delivery_schedule=(0.0, 0.5, 1.0),
            # The mock serves its videos on loopback: copies may fetch them (kept-video tests
            # pass outputs="keep"; the others announce the mock's links as before).
            output_source_allowlist=("127.0.0.0/8",),
            outputs="link",
        ).with_(**changes)
        parts: Parts = {}
        if tracer_provider is not None:
            parts["tracer_provider"] = tracer_provider
        gateway = servers.enter_context(MockServer(create_app(settings, **parts), port=port))
        yield LiveStack(
            url=gateway.url,
            key=CLIENT_KEY,
            secret=SECRET,
            admin_key=ADMIN_KEY,
            receiver=receiver,
            hook_url=f"{hooks.url}/hook",
            settings=settings,
            database_path=database_path,
        )
