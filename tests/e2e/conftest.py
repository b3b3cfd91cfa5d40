"""The gateway in front of the strict mock, in-process, on one fake clock shared with the mock and
a webhook receiver: nothing sleeps, work runs when the test says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import WebhookSender
from gateway.domain.addresses import Allowlist
from gateway.settings import Settings
from gateway.testing.fakes import AllowAllGuard
from gateway.testing.receiver import Receiver
from gateway.upstream.client import UpstreamClient
from gateway.worker.ticker import Worker
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import FakeClock, Journal

KEY = "gw_e2e_client_key_0123456789"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CALLBACK = "http://receiver.test/hook"


@dataclass
class World:
    http: AsyncTestClient[Any]
    worker: Worker
    clock: FakeClock
    receiver: Receiver
    journal: Journal
    mock: Litestar  # the upstream the gateway calls (tests may call it directly too)

    async def submit(self, **fields: Any) -> str:
        return await self.submit_body(
            {"prompt": "a horse", "duration": "7", "callback_url": CALLBACK, **fields}
        )

    async def submit_body(self, body: dict[str, Any]) -> str:
        response = await self.http.post(
            "/v1/jobs", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert 202 == response.status_code, response.text
        job_id: str = response.json()["id"]
        return job_id

    async def settle(self, seconds: float, step: float = 1.0) -> None:
        """Move the shared clock forward in steps, running all due work at each."""
        for _ in range(int(seconds / step)):
            self.clock.advance(step)
            await self.worker.run_until_idle()

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.http.get(
            f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
        )
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock()
    mock = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key", clock=clock))
    receiver = Receiver()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'e2e.db'}",
        aimlapi_key="upstream-key",
        upstream_url="http://mock.test",
        client_api_key=KEY,
        client_webhook_secret=SECRET,
        poll_policy="fixed",
        poll_interval_s=1.0,
        poll_floor_s=0.5,
        delivery_schedule=(0.0, 2.0, 4.0, 8.0),
        delivery_jitter=0.0,
        outputs="link",  # the in-process mock's links are not fetchable; see tests/outputs
    )
    upstream = UpstreamClient(
        settings.upstream_url, settings.aimlapi_key, transport=httpx.ASGITransport(app=mock)
    )
    sender = WebhookSender(
        AddressGuard(Allowlist()), transport=httpx.ASGITransport(app=receiver.app())
    )
    app = create_app(
        settings,
        upstream=upstream,
        sender=sender,
        guard=AllowAllGuard(),
        clock=clock,
        run_worker=False,
    )
    async with AsyncTestClient(app=app) as http:
        worker = app.state.gateway.worker
        yield World(
            http=http,
            worker=worker,
            clock=clock,
            receiver=receiver,
            journal=Journal(mock),
            mock=mock,
        )
    await upstream.aclose()
    await sender.aclose()
