"""``gateway dev``'s webhook inbox as a page: each webhook received, its signature verdict, its
payload (``/dev/inbox`` stays the JSON receiver)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from gateway.console.auth import Viewer, current_viewer
from gateway.console.render import page, secure
from gateway.console.routes import CONSOLE_ERRORS


def inbox_page(entries: Any) -> Any:
    """The page's handler over ``entries()``: the received webhooks, newest first."""

    @get(
        "/console/inbox",
        name="console_inbox",
        include_in_schema=False,
        dependencies={"viewer": Provide(current_viewer)},
        after_request=secure,
        exception_handlers=CONSOLE_ERRORS,
    )
    async def inbox(request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        return await page(request, viewer, "inbox.html", entries=entries())

    return inbox
