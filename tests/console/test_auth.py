"""Console sign-in: cookie flags, CSRF refusals, revocation and rotation ending sessions, links."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx

from gateway.console.session import COOKIE_NAME, LINK_TTL_S, SESSION_TTL_S
from gateway.console.session import Console as SessionKeys
from gateway.ids import hash_api_key
from gateway.service.clients import BOOTSTRAP_CLIENT_ID
from gateway.store.records import ClientRecord
from tests.console.conftest import Console, csrf_of
from tests.http.conftest import ADMIN_KEY, BOOTSTRAP_KEY, BOOTSTRAP_SECRET


def another_client(
    console: Console, base_url: str = "http://testserver.local"
) -> httpx.AsyncClient:
    """A second browser on the running app: no cookies, and no second lifespan (a test client
    would start the app again on top of the running one)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=console.http.app), base_url=base_url)


def cookie_of(set_cookie: str) -> tuple[str, dict[str, str]]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    morsel = jar[COOKIE_NAME]
    attributes = {key.lower(): str(value) for key, value in morsel.items() if value}
    return morsel.value, attributes


async def is_signed_in(console: Console) -> bool:
    response = await console.http.get("/console/jobs", follow_redirects=False)
    return 200 == response.status_code


async def test_pages_need_a_session(console: Console) -> None:
    """Every console page sends a visitor without a session to the sign-in page."""
    for path in ("/console/jobs", "/console/deliveries", "/console/models", "/console/jobs/x"):
        response = await console.http.get(path, follow_redirects=False)
        assert (303, "/console/signin") == (
            response.status_code,
            response.headers["location"],
        ), path
    fragment = await console.http.get(
        "/console/jobs/rows", headers={"HX-Request": "true"}, follow_redirects=False
    )
    assert (401, "/console/signin") == (fragment.status_code, fragment.headers["hx-redirect"])


async def test_session_cookie_flags_and_contents(console: Console) -> None:
    """HttpOnly, SameSite=Strict, scoped to /console, not Secure over plain HTTP; the cookie
    holds the key's hash, never the key."""
    response = await console.sign_in()
    assert (303, "/console/jobs") == (response.status_code, response.headers["location"])
    value, attributes = cookie_of(response.headers["set-cookie"])
    assert "httponly" in attributes
    assert "strict" == attributes["samesite"].lower()
    assert "/console" == attributes["path"]
    assert "secure" not in attributes
    assert BOOTSTRAP_KEY not in value
    import base64

    payload = base64.urlsafe_b64decode(value.split(".")[0] + "==").decode()
    assert hash_api_key(BOOTSTRAP_KEY) in payload
    assert await is_signed_in(console)


async def test_secure_cookie_over_tls(console: Console) -> None:
    """Served over https, the session cookie is marked Secure."""
    async with another_client(console, base_url="https://console.test") as https:
        form = await https.get("/console/signin")
        _, attributes = cookie_of(form.headers["set-cookie"])
        assert "secure" in attributes
        response = await https.post(
            "/console/signin",
            data={"key": BOOTSTRAP_KEY, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        _, attributes = cookie_of(response.headers["set-cookie"])
        assert (303, True) == (response.status_code, "secure" in attributes)


async def test_a_wrong_key_is_refused(console: Console) -> None:
    """An unknown key re-shows the form with a 401 and signs nobody in."""
    response = await console.sign_in("gw_not_a_key")
    assert 401 == response.status_code
    assert "That key is not valid" in response.text
    assert not await is_signed_in(console)


async def test_sign_in_without_the_forms_token_is_refused(console: Console) -> None:
    """A sign-in POST without the anonymous session's token (login CSRF) is a 403."""
    await console.http.get("/console/signin")
    response = await console.http.post(
        "/console/signin", data={"key": BOOTSTRAP_KEY}, follow_redirects=False
    )
    assert 403 == response.status_code
    async with another_client(console) as fresh:
        response = await fresh.post(
            "/console/signin",
            data={"key": BOOTSTRAP_KEY, "csrf_token": "guessed"},
            follow_redirects=False,
        )
    assert 403 == response.status_code
    assert not await is_signed_in(console)


async def test_actions_without_the_csrf_token_are_refused(console: Console) -> None:
    """Redeliver, replay and sign-out refuse a POST without (or with another) session token."""
    job_id = await console.submit()
    await console.finish()
    await console.sign_in()
    sent = len(console.sender.sent)
    for path, data in (
        (f"/console/jobs/{job_id}/redeliver", {}),
        ("/console/deliveries/replay", {"since": "2020-01-01T00:00", "until": "2090-01-01T00:00"}),
        ("/console/signout", {}),
    ):
        for token in (None, "not-the-token"):
            form = data | ({"csrf_token": token} if token else {})
            response = await console.http.post(path, data=form, follow_redirects=False)
            assert 403 == response.status_code, (path, token)
            assert "Refused" in response.text
    deliveries = await console.gateway.runtime.store.deliveries.for_job(job_id)
    assert ["delivered"] == [d.state for d in deliveries]
    await console.gateway.worker.run_until_idle()  # type: ignore[union-attr]
    assert sent == len(console.sender.sent)
    assert await is_signed_in(console)


async def test_sign_out_ends_the_session(console: Console) -> None:
    """Signing out clears the cookie; the pages then ask to sign in again."""
    await console.sign_in()
    response = await console.http.post(
        "/console/signout", data={"csrf_token": await console.csrf()}, follow_redirects=False
    )
    assert (303, "/console/signin") == (response.status_code, response.headers["location"])
    value, attributes = cookie_of(response.headers["set-cookie"])
    assert ("", "0") == (value, attributes["max-age"])
    assert not await is_signed_in(console)


async def test_revoking_the_key_ends_its_sessions(console: Console) -> None:
    """A client's session ends the moment its key is revoked."""
    other = await console.new_client()
    await console.sign_in(other["api_key"])
    assert await is_signed_in(console)
    revoked = await console.http.post(
        f"/v1/admin/clients/{other['id']}/revoke", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert 200 == revoked.status_code, revoked.text
    assert not await is_signed_in(console)


async def test_rotating_the_key_ends_its_sessions(console: Console) -> None:
    """The bootstrap client's key replaced (GATEWAY_CLIENT_API_KEY changed): old sessions end."""
    await console.sign_in()
    store = console.gateway.runtime.store
    await store.clients.ensure(
        ClientRecord(
            id=BOOTSTRAP_CLIENT_ID,
            name="bootstrap",
            api_key_hash=hash_api_key("gw_a_brand_new_key_0123456789"),
            webhook_secret=BOOTSTRAP_SECRET,
            created_at=0.0,
        )
    )
    assert not await is_signed_in(console)


async def test_changing_the_admin_key_ends_operator_sessions(console: Console) -> None:
    """An operator session is tied to the admin key it was made with: after a restart with
    another GATEWAY_ADMIN_KEY (same console secret) its cookie signs nobody in, while a restart
    with the same key keeps it."""

    sessions = console.gateway.console.sessions  # the database's rows outlive a restart

    def restarted(admin_key: str) -> SessionKeys:
        return SessionKeys(
            "console-secret", admin_key=admin_key, clock=console.clock, sessions=sessions
        )

    console.gateway.console = restarted(ADMIN_KEY)
    await console.sign_in(ADMIN_KEY)
    assert await is_signed_in(console)
    console.gateway.console = restarted(ADMIN_KEY)
    assert await is_signed_in(console)
    console.gateway.console = restarted("a-new-admin-key-0123456789")
    assert not await is_signed_in(console)


async def test_tampered_and_expired_cookies_sign_nobody_in(console: Console) -> None:
    """A cookie changed by hand, or older than the session lifetime, is no session."""
    response = await console.sign_in()
    value, _ = cookie_of(response.headers["set-cookie"])
    payload, mac = value.split(".")
    console.http.cookies.clear()
    console.http.cookies.set(COOKIE_NAME, f"{payload}x.{mac}", path="/console")
    assert not await is_signed_in(console)
    console.http.cookies.clear()
    console.http.cookies.set(COOKIE_NAME, value, path="/console")
    assert await is_signed_in(console)
    console.clock.advance(SESSION_TTL_S + 1)
    assert not await is_signed_in(console)


async def test_one_time_sign_in_link(console: Console) -> None:
    """A dev sign-in link works once, and not after it expires."""
    links = console.gateway.console
    assert links is not None
    token = await links.issue_link("client", hash_api_key(BOOTSTRAP_KEY))
    first = await console.http.get(f"/console/signin/link?token={token}", follow_redirects=False)
    assert (303, "/console/jobs") == (first.status_code, first.headers["location"])
    assert await is_signed_in(console)
    console.http.cookies.clear()
    again = await console.http.get(f"/console/signin/link?token={token}", follow_redirects=False)
    assert 400 == again.status_code
    assert not await is_signed_in(console)
    late = await links.issue_link("client", hash_api_key(BOOTSTRAP_KEY))
    console.clock.advance(LINK_TTL_S + 1)
    expired = await console.http.get(f"/console/signin/link?token={late}", follow_redirects=False)
    assert 400 == expired.status_code
    assert not await is_signed_in(console)
