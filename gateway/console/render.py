"""Rendering pages: the template engine (autoescaping everything), shared context, and the
security headers every console response carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.exceptions import NoRouteMatchFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from gateway.console.auth import Viewer

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere: scripts and styles come from /console/static only. The video
# plays from wherever the upstream stored it, so media may come from any http(s) origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' https: http:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def when(moment: float | str | None) -> str:
    """Unix seconds, or an ISO 8601 time from a view, as a readable UTC time."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    else:
        parsed = datetime.fromtimestamp(moment, UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    environment.filters["pretty_json"] = pretty_json
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def secure(response: Response[Any]) -> Response[Any]:
    """``after_request`` hook: the console's security headers on every response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def has_inbox(request: Request[Any, Any, Any]) -> bool:
    try:
        request.app.route_reverse("console_inbox")
    except NoRouteMatchFoundException:
        return False
    return True


async def page(
    request: Request[Any, Any, Any],
    viewer: Viewer | None,
    name: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A full page or a fragment, with what the layout needs (who is signed in, the operator's
    client picker)."""
    clients = viewer.clients if viewer is not None else ()
    picked = request.query_params.get("client") if viewer is not None and viewer.is_admin else None
    base = {
        "viewer": viewer,
        "clients": clients,
        "picked": picked or "",
        "has_inbox": has_inbox(request),
        "path": request.url.path,
    }
    return Template(
        template_name=name,
        context=base | context,
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
