"""The console's routes, its error pages, and the root page ``/``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from gateway.console.auth import CsrfRefused, NotSignedIn
from gateway.console.deliveries import DeliveriesController
from gateway.console.jobs import JobsController
from gateway.console.models import ModelsController
from gateway.console.render import SECURITY_HEADERS, STATIC, secure
from gateway.console.signin import SignInController
from gateway.errors import GatewayError


def _error_page(status_code: int, title: str, message: str) -> Template:
    return Template(
        template_name="error.html",
        context={"title": title, "message": message, "viewer": None, "has_inbox": False},
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


def not_signed_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    if request.headers.get("hx-request"):  # a fragment poll: send the whole page to sign-in
        return Response(b"", status_code=401, headers={"HX-Redirect": "/console/signin"})
    return Redirect("/console/signin", status_code=303, headers=SECURITY_HEADERS)


def csrf_refused(_: Request[Any, Any, Any], __: Exception) -> Template:
    return _error_page(
        403,
        "Refused",
        "This action did not come from a console page of your session. Reload the page and "
        "try again.",
    )


def gateway_error(_: Request[Any, Any, Any], exc: Exception) -> Template:
    assert isinstance(exc, GatewayError)
    return _error_page(exc.status_code, "Not possible", exc.message)


def http_error(request: Request[Any, Any, Any], exc: Exception) -> Template:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error_page(404, "Not found", "There is no such page.")
    return _error_page(exc.status_code, "Not possible", "The request was not understood.")


CONSOLE_ERRORS: dict[int | type[Exception], Any] = {
    NotSignedIn: not_signed_in,
    CsrfRefused: csrf_refused,
    GatewayError: gateway_error,
    HTTPException: http_error,
}


@get("/", include_in_schema=False, name="root", after_request=secure)
async def root() -> Template:
    """Where to go from here: the console, the API documentation, the metrics."""
    return Template(template_name="root.html", context={"viewer": None, "has_inbox": False})


def console_routes() -> list[Any]:
    return [
        Router(
            path="/",
            route_handlers=[
                SignInController,
                JobsController,
                DeliveriesController,
                ModelsController,
            ],
            after_request=secure,
            exception_handlers=CONSOLE_ERRORS,
        ),
        create_static_files_router(
            path="/console/static", directories=[STATIC], name="console_static"
        ),
        root,
    ]
