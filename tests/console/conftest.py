"""The console in-process (Litestar's test client), with fakes behind the gateway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import Gateway
from gateway.domain.upstream import Generation
from gateway.store import Store
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from tests.http.conftest import ADMIN_KEY, BOOTSTRAP_KEY, api_settings, gateway_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


@dataclass
class Console:
    http: AsyncTestClient[Any]
    gateway: Gateway
    clock: Clock
    upstream: ScriptedUpstream
    sender: RecordingSender

    async def sign_in(self, key: str = BOOTSTRAP_KEY) -> httpx.Response:
        form = await self.http.get("/console/signin")
        return await self.http.post(
            "/console/signin",
            data={"key": key, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )

    async def csrf(self) -> str:
        return csrf_of((await self.http.get("/console/jobs")).text)

    async def submit(self, key: str = BOOTSTRAP_KEY, **fields: Any) -> str:
        body = {"prompt": "a horse", "callback_url": "https://hooks.test/in", **fields}
        response = await self.http.post(
            "/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert 202 == response.status_code, response.text
        job_id: str = response.json()["id"]
        return job_id

    async def new_client(self, name: str = "other") -> dict[str, str]:
        response = await self.http.post(
            "/v1/admin/clients",
            json={"name": name},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert 201 == response.status_code, response.text
        body: dict[str, str] = response.json()
        return body

    async def finish(self, *, video_url: str = "https://videos.test/v.mp4") -> None:
        """Run the worker until every job so far completed and its webhook was tried."""
        worker = self.gateway.worker
        assert worker is not None
        self.upstream.poll_script.append(
            Generation(id="g", status="completed", video_url=video_url)
        )
        await worker.run_until_idle()
        self.clock.advance(15)
        await worker.run_until_idle()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    settings = api_settings(tmp_path)
    clock = Clock(start=1_800_000_000.0)
    store = await Store.open(settings.database_url)
    upstream, sender = ScriptedUpstream(), RecordingSender()
    app = gateway_app(settings, store, upstream, sender, clock)
    async with AsyncTestClient(app=app) as http:
        yield Console(
            http=http, gateway=app.state.gateway, clock=clock, upstream=upstream, sender=sender
        )
    await store.close()
