"""Who is looking: sessions from the cookie, re-checked against live keys on every request.

A client's session sees that client's jobs; the operator's (admin key) sees every client's and
may pick one. Every action (a POST) must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from gateway.console.session import COOKIE_NAME, SESSION_TTL_S, Console, Kind, Session
from gateway.ids import hash_api_key
from gateway.service import Services
from gateway.service.clients import Clients, ClientView
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
    clients: Sequence[ClientView] = ()  # the operator's: every client, to pick one from

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


async def current_session(request: Request[Any, Any, Any], console: Console) -> Session | None:
    """The request's session: anonymous, or signed in and not signed out of (its row is read)."""
    return await console.current(request.cookies.get(COOKIE_NAME))


async def resolve(console: Console, clients: Clients, session: Session | None) -> Viewer | None:
    """The viewer a session stands for, if its key is still valid (not revoked or rotated)."""
    if session is None:
        return None
    if session.kind == "admin" and console.is_admin_key(session.key_hash):
        return Viewer(session=session, client=None, clients=await clients.listing())
    if session.kind == "client":
        client = await clients.holder_of(session.key_hash)
        if client is not None:
            return Viewer(session=session, client=client)
    return None


async def signed_in_kind(console: Console, clients: Clients, key: str) -> tuple[Kind, str] | None:
    """(kind, key hash) for a key typed into the sign-in form, if it is valid."""
    if not key:
        return None
    key_hash = hash_api_key(key)
    if console.is_admin_key(key_hash):
        return "admin", key_hash
    if await clients.holder_of(key_hash) is not None:
        return "client", key_hash
    return None


async def current_viewer(
    request: Request[Any, Any, Any],
    console: NamedDependency[Console],
    services: NamedDependency[Services],
) -> Viewer:
    """Litestar dependency: the signed-in viewer; else the sign-in page."""
    viewer = await resolve(console, services.clients, await current_session(request, console))
    if viewer is None:
        raise NotSignedIn
    return viewer


def check_csrf(session: Session | None, given: str | None) -> None:
    if session is None or not given or not hmac.compare_digest(given, session.csrf):
        raise CsrfRefused


async def acting_viewer(
    request: Request[Any, Any, Any],
    console: NamedDependency[Console],
    services: NamedDependency[Services],
) -> Viewer:
    """Litestar dependency for actions: the signed-in viewer, with the session's CSRF token in
    the form (or the ``X-CSRF-Token`` header); else 403."""
    viewer = await current_viewer(request, console, services)
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
    request: Request[Any, Any, Any], console: Console, response: Response[Any], session: Session
) -> Response[Any]:
    response.set_cookie(session_cookie(request, console.seal(session), max_age=SESSION_TTL_S))
    return response
