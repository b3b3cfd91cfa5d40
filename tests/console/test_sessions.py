"""Console sessions live in the database (both backends): signing out ends the session for every
copy of its cookie, on every replica; a one-time sign-in link issued by one app instance signs in
on another, once, until it expires."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.console.session import COOKIE_NAME, LINK_TTL_S, SESSION_TTL_S, Console
from gateway.ids import hash_api_key
from gateway.settings import Settings
from gateway.testing.fakes import Clock
from tests.backends import open_empty_store
from tests.console.conftest import csrf_of
from tests.http.conftest import BOOTSTRAP_KEY, api_settings, gateway_app, in_this_loop

SECRET = "console-secret-shared-by-the-replicas"


@pytest.fixture
async def console_settings(tmp_path: Path, database_url: str) -> Settings:
    await (await open_empty_store(database_url)).close()
    return api_settings(tmp_path, database_url=database_url, console_secret=SECRET)


@dataclass
class Replica:
    browser: httpx.AsyncClient  # a browser of its own on this instance
    console: Console  # this instance's


@contextlib.asynccontextmanager
async def replica(settings: Settings, clock: Clock, name: str) -> AsyncIterator[Replica]:
    """One app instance (a replica) on the shared database."""
    app = gateway_app(settings.with_(replica_id=name), clock=clock)
    async with in_this_loop(app) as http:
        yield Replica(browser=http, console=app.state.gateway.console)


async def sign_in(browser: httpx.AsyncClient) -> str:
    """Sign in with the bootstrap key; the session cookie's value."""
    form = await browser.get("/console/signin")
    response = await browser.post(
        "/console/signin",
        data={"key": BOOTSTRAP_KEY, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert (303, "/console/jobs") == (response.status_code, response.headers["location"])
    cookie = browser.cookies.get(COOKIE_NAME)
    assert cookie
    return cookie


async def signed_in_with(browser: httpx.AsyncClient, cookie: str) -> bool:
    response = await browser.get(
        "/console/jobs", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, follow_redirects=False
    )
    return 200 == response.status_code


async def test_a_copied_cookie_is_refused_after_sign_out_on_every_replica(
    console_settings: Settings,
) -> None:
    clock = Clock(start=1_800_000_000.0)
    async with (
        replica(console_settings, clock, "a") as first_replica,
        replica(console_settings, clock, "b") as second_replica,
    ):
        a, b = first_replica.browser, second_replica.browser
        cookie = await sign_in(a)
        assert await signed_in_with(b, cookie)  # the session works on the other replica too
        page = await a.get("/console/jobs")
        out = await a.post(
            "/console/signout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert 303 == out.status_code
        assert not await signed_in_with(a, cookie)  # the copy kept before signing out
        assert not await signed_in_with(b, cookie)
        # Signing in again gives a new session; the old cookie stays dead.
        again = await sign_in(a)
        assert (True, False) == (
            await signed_in_with(b, again),
            await signed_in_with(b, cookie),
        )


async def test_a_session_ends_after_its_lifetime(console_settings: Settings) -> None:
    clock = Clock(start=1_800_000_000.0)
    async with replica(console_settings, clock, "a") as only:
        a = only.browser
        cookie = await sign_in(a)
        clock.advance(SESSION_TTL_S - 1)
        assert await signed_in_with(a, cookie)
        clock.advance(2)
        assert not await signed_in_with(a, cookie)


async def test_a_link_issued_on_one_replica_signs_in_on_another_once(
    console_settings: Settings,
) -> None:
    clock = Clock(start=1_800_000_000.0)
    async with (
        replica(console_settings, clock, "a") as first_replica,
        replica(console_settings, clock, "b") as second_replica,
    ):
        a, b = first_replica.browser, second_replica.browser
        issuer = first_replica.console
        token = await issuer.issue_link("client", hash_api_key(BOOTSTRAP_KEY))
        first = await b.get(f"/console/signin/link?token={token}", follow_redirects=False)
        assert (303, "/console/jobs") == (first.status_code, first.headers["location"])
        cookie = b.cookies.get(COOKIE_NAME)
        assert cookie
        assert await signed_in_with(a, cookie)
        for browser in (a, b):  # used: refused everywhere
            browser.cookies.clear()
            again = await browser.get(f"/console/signin/link?token={token}", follow_redirects=False)
            assert 400 == again.status_code
        late = await issuer.issue_link("client", hash_api_key(BOOTSTRAP_KEY))
        clock.advance(LINK_TTL_S + 1)
        expired = await b.get(f"/console/signin/link?token={late}", follow_redirects=False)
        assert 400 == expired.status_code
        unknown = await b.get("/console/signin/link?token=never-issued", follow_redirects=False)
        assert 400 == unknown.status_code
