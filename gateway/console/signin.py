"""Signing in (with a client key or the admin key), signing out, and one-time links."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Redirect

from gateway.console.auth import (
    CSRF_FIELD,
    Viewer,
    acting_viewer,
    check_csrf,
    current_session,
    resolve,
    session_cookie,
    signed_in_kind,
    with_session,
)
from gateway.console.render import page
from gateway.console.session import Console, new_session
from gateway.service import Services

log = structlog.get_logger("gateway.console")


async def signin_page(
    request: Request[Any, Any, Any],
    console: Console,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response[Any]:
    """The sign-in form, under an anonymous session that carries its CSRF token."""
    session = await current_session(request, console)
    if session is None or session.signed_in:
        session = new_session("", "", now=console.clock())
    form = await page(
        request, None, "signin.html", status_code=status_code, csrf=session.csrf, error=error
    )
    return with_session(request, console, form, session)


class SignInController(Controller):
    path = "/console"
    include_in_schema = False

    @get("/", name="console_home")
    async def home(self) -> Redirect:
        return Redirect("/console/jobs", status_code=303)

    @get("/signin", name="console_signin")
    async def signin_form(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        if (
            await resolve(console, services.clients, await current_session(request, console))
            is not None
        ):
            return Redirect("/console/jobs", status_code=303)
        return await signin_page(request, console)

    @post("/signin", status_code=303)
    async def signin(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        session = await current_session(request, console)
        form = await request.form()
        given = form.get(CSRF_FIELD)
        check_csrf(session, given if isinstance(given, str) else None)
        key = form.get("key")
        found = await signed_in_kind(
            console, services.clients, key.strip() if isinstance(key, str) else ""
        )
        if found is None:
            log.info("console_sign_in_refused")
            return await signin_page(
                request,
                console,
                status_code=401,
                error="That key is not valid (unknown or revoked).",
            )
        kind, key_hash = found
        # A fresh session (its row, and a new CSRF token) on every sign-in: nothing carries over.
        signed = await console.start("admin" if kind == "admin" else "client", key_hash)
        log.info("console_signed_in", kind=kind)
        return with_session(request, console, Redirect("/console/jobs", status_code=303), signed)

    @get("/signin/link", name="console_signin_link")
    async def signin_link(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        services: NamedDependency[Services],
        token: FromQuery[str] = "",
    ) -> Response[Any]:
        found = await console.redeem_link(token)
        valid = found is not None and await resolve(
            console, services.clients, new_session(found[0], found[1], now=console.clock())
        )
        if found is None or not valid:
            return await signin_page(
                request,
                console,
                status_code=400,
                error="That sign-in link was used already or has expired. Sign in with a key.",
            )
        session = await console.start(*found)
        log.info("console_signed_in", kind=found[0], by="link")
        return with_session(request, console, Redirect("/console/jobs", status_code=303), session)

    @post(
        "/signout",
        status_code=303,
        dependencies={"viewer": Provide(acting_viewer)},
    )
    async def signout(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        viewer: NamedDependency[Viewer],
    ) -> Response[Any]:
        await console.end(viewer.session)  # every copy of the cookie stops working
        log.info("console_signed_out", kind=viewer.session.kind)
        response: Response[Any] = Redirect("/console/signin", status_code=303)
        response.set_cookie(session_cookie(request, "", max_age=0))
        return response
