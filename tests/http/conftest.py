"""The gateway app in-process (Litestar's test client), with fakes behind it and no ticker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.app import Gateway, create_app
from gateway.settings import Settings
from gateway.store import Store
from gateway.testing.fakes import AllowAllGuard, Clock, RecordingSender, ScriptedUpstream
from tests.backends import open_empty_store

ADMIN_KEY = "admin-key-for-tests-0123456789"
BOOTSTRAP_KEY = "gw_bootstrap_key_for_tests_0123456789"
BOOTSTRAP_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Api:
    http: AsyncTestClient[Any] | httpx.AsyncClient
    gateway: Gateway
    clock: Clock
    upstream: ScriptedUpstream
    sender: RecordingSender

    def auth(self, key: str = BOOTSTRAP_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def new_client(self, name: str = "other") -> dict[str, str]:
        response = await self.http.post(
            "/v1/admin/clients", json={"name": name}, headers=self.auth(ADMIN_KEY)
        )
        assert 201 == response.status_code, response.text
        body: dict[str, str] = response.json()
        return body

    async def submit(self, key: str = BOOTSTRAP_KEY, **fields: Any) -> Any:
        body = {"prompt": "a horse", "callback_url": "https://hooks.test/in", **fields}
        return await self.http.post("/v1/jobs", json=body, headers=self.auth(key))


def api_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        client_api_key=BOOTSTRAP_KEY,
        client_webhook_secret=BOOTSTRAP_SECRET,
        admin_key=ADMIN_KEY,
        aimlapi_key="upstream-key-never-shown-0123456789",
        poll_policy="fixed",
        replica_id="api-tests",
        outputs="link",  # nothing to copy from; tests of kept videos say "keep"
    ).with_(**changes)


def gateway_app(
    settings: Settings,
    store: Store | None = None,
    upstream: ScriptedUpstream | None = None,
    sender: RecordingSender | None = None,
    clock: Clock | None = None,
    extra_route_handlers: Sequence[Any] = (),
) -> Litestar:
    """The app with fakes behind it and no ticker (tests drive the work themselves); without a
    store it opens its own (on the test client's event loop)."""
    return create_app(
        settings,
        store=store,
        upstream=upstream or ScriptedUpstream(),
        sender=sender or RecordingSender(),
        guard=AllowAllGuard(),
        clock=clock or Clock(),
        run_worker=False,
        extra_route_handlers=extra_route_handlers,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    clock = Clock(start=1_800_000_000.0)
    store = await Store.open(settings.database_url)
    upstream, sender = ScriptedUpstream(), RecordingSender()
    app = gateway_app(settings, store, upstream, sender, clock)
    async with AsyncTestClient(app=app) as http:
        yield Api(
            http=http,
            gateway=app.state.gateway,
            clock=clock,
            upstream=upstream,
            sender=sender,
        )
    await store.close()


@contextlib.asynccontextmanager
async def in_this_loop(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the caller's event loop: its lifespan held by a task of its own (entered and
    left in one task, as anyio requires), requests through httpx's ASGI transport."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    holder = asyncio.ensure_future(hold())
    starting = asyncio.ensure_future(started.wait())
    await asyncio.wait([holder, starting], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    starting.cancel()
    if holder.done():
        holder.result()  # the start failed: raise its error
    assert started.is_set(), "the app did not start within 60 s"
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver.local"
        ) as http:
            yield http
    finally:
        stop.set()
        await holder


@pytest.fixture
async def stored_api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """``api`` on each backend (SQLite, PostgreSQL): for what depends on the database. The app
    runs on the test's event loop, so that the test may drive the worker on its store."""
    await (await open_empty_store(database_url)).close()
    clock = Clock(start=1_800_000_000.0)
    upstream, sender = ScriptedUpstream(), RecordingSender()
    app = gateway_app(
        api_settings(tmp_path, database_url=database_url),
        upstream=upstream,
        sender=sender,
        clock=clock,
    )
    async with in_this_loop(app) as http:
        yield Api(
            http=http,
            gateway=app.state.gateway,
            clock=clock,
            upstream=upstream,
            sender=sender,
        )
