"""Who is looking: sessions from the cookie, re-checked against live keys on every request.

A client's session sees that client's jobs; the operator's (admin key) sees every client's and
may pick one. Every action (a POST) must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from gateway.console.session import COOKIE_NAME, SESSION_TTL_S, Console, Kind, Session
from gateway.http.state import Gateway, gateway_of
from gateway.ids import hash_api_key
from gateway.store.records import ClientRecord

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotSignedIn(Exception):
    """No valid session: the console answers with the sign-in page."""


class CsrfRefused(Exception):
    """An action without the session's CSRF token: 403."""


@dataclass(frozen=True)
class Viewer:
    session: Session
    client: ClientRecord | None  # None: the operator, signed in with the admin key

    @property
    def is_admin(self) -> bool:
        return self.client is None

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def scope(self, picked: str | None) -> str | None:
        """Whose jobs to show: a client always its own; the operator the picked one, or all."""
        if self.client is not None:
            return self.client.id
        return picked or None


def console_of(request: Request[Any, Any, Any]) -> tuple[Gateway, Console]:
    gateway = gateway_of(request)
    assert gateway.console is not None, "create_app always sets up the console"
    return gateway, gateway.console


def current_session(request: Request[Any, Any, Any]) -> Session | None:
    gateway, console = console_of(request)
    return console.open(request.cookies.get(COOKIE_NAME), now=gateway.runtime.clock())


def _is_admin_key_hash(gateway: Gateway, key_hash: str) -> bool:
    admin_key = gateway.runtime.settings.admin_key
    return bool(admin_key) and hmac.compare_digest(hash_api_key(admin_key), key_hash)


async def resolve(gateway: Gateway, session: Session | None) -> Viewer | None:
    """The viewer a session stands for, if its key is still valid (not revoked or rotated)."""
    if session is None:
        return None
    if session.kind == "admin" and _is_admin_key_hash(gateway, session.key_hash):
        return Viewer(session=session, client=None)
    if session.kind == "client":
        # Read from the database, not the API's key cache: the console is light traffic, and a
        # session ends the moment its key is revoked or replaced, from any process.
        client = await gateway.runtime.store.clients.by_key_hash(session.key_hash)
        if client is not None:
            return Viewer(session=session, client=client)
    return None


async def signed_in_kind(gateway: Gateway, key: str) -> tuple[Kind, str] | None:
    """(kind, key hash) for a key typed into the sign-in form, if it is valid."""
    if not key:
        return None
    key_hash = hash_api_key(key)
    if _is_admin_key_hash(gateway, key_hash):
        return "admin", key_hash
    if await gateway.runtime.store.clients.by_key_hash(key_hash) is not None:
        return "client", key_hash
    return None


async def current_viewer(request: Request[Any, Any, Any]) -> Viewer:
    """Litestar dependency: the signed-in viewer; else the sign-in page."""
    viewer = await resolve(gateway_of(request), current_session(request))
    if viewer is None:
        raise NotSignedIn
    return viewer


def check_csrf(session: Session | None, given: str | None) -> None:
    if session is None or not given or not hmac.compare_digest(given, session.csrf):
        raise CsrfRefused


async def acting_viewer(request: Request[Any, Any, Any]) -> Viewer:
    """Litestar dependency for actions: the signed-in viewer, with the session's CSRF token in
    the form (or the ``X-CSRF-Token`` header); else 403."""
    viewer = await current_viewer(request)
    form = await request.form()
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    check_csrf(viewer.session, given if isinstance(given, str) else None)
    return viewer


def session_cookie(request: Request[Any, Any, Any], value: str, *, max_age: float) -> Cookie:
    """HttpOnly, SameSite=Strict, Secure when served over TLS, scoped to the console."""
    return Cookie(
        key=COOKIE_NAME,
        value=value,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(max_age),
    )


def with_session(
    request: Request[Any, Any, Any], response: Response[Any], session: Session
) -> Response[Any]:
    _, console = console_of(request)
    response.set_cookie(session_cookie(request, console.seal(session), max_age=SESSION_TTL_S))
    return response
