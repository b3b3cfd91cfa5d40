"""Dead letters across jobs, and replaying a time window of them (with a preview count)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from gateway.console.auth import Viewer, acting_viewer, current_viewer
from gateway.console.render import page
from gateway.errors import InvalidRequest, NotFound
from gateway.service import Services
from gateway.service.clients import Jwk

DEAD_SHOWN = 100
NOTICES_SHOWN = 50
Text = Annotated[str, QueryParameter(max_length=100)]


def parse_moment(text: str, field: str) -> float:
    """A time from the form: ISO 8601; without an offset it is UTC (the page says so)."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(
            f"{field} is not a time like 2026-11-27T10:00", details=[{"field": field}]
        ) from None


def _window(since: str, until: str) -> tuple[float, float]:
    start, end = parse_moment(since, "since"), parse_moment(until, "until")
    if end <= start:
        raise InvalidRequest("until must be after since")
    return start, end


async def _signing_keys(services: Services, client_id: str | None) -> list[Jwk]:
    if not client_id:
        return []
    try:
        return (await services.clients.signing_keys(client_id)).keys
    except NotFound:  # an operator's pick of a client that does not exist: nothing to show
        return []


class DeliveriesController(Controller):
    path = "/console/deliveries"
    include_in_schema = False
    dependencies = {"viewer": Provide(current_viewer)}

    @get("/", name="console_deliveries")
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
        client: Text = "",
        since: Text = "",
        until: Text = "",
        replayed: Annotated[int | None, QueryParameter(ge=0)] = None,
    ) -> Template:
        scope = viewer.scope(client)
        dead = await services.jobs.dead_letters(client_id=scope, limit=DEAD_SHOWN)
        notices = await services.jobs.operational_events(client_id=scope, limit=NOTICES_SHOWN)
        # The public keys a receiver verifies v1a signatures with (one client's: shown when the
        # page is about one client; empty while it signs with HMAC only).
        keys = await _signing_keys(services, scope)
        preview = None
        if since and until:
            start, end = _window(since, until)
            preview = await services.jobs.count_dead(client_id=scope, since=start, until=end)
        return await page(
            request,
            viewer,
            "deliveries.html",
            dead=dead,
            notices=notices,
            signing_keys=keys,
            signing_keys_client=scope or "",
            since=since,
            until=until,
            preview=preview,
            replayed=replayed,
        )

    @post(
        "/replay",
        status_code=303,
        dependencies={"viewer": Provide(acting_viewer)},
    )
    async def replay(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        form = await request.form()
        since, until, client = (str(form.get(name) or "") for name in ("since", "until", "client"))
        start, end = _window(since, until)
        count = await services.jobs.replay(client_id=viewer.scope(client), since=start, until=end)
        query = {"replayed": count} | ({"client": client} if viewer.is_admin and client else {})
        return Redirect(f"/console/deliveries?{urlencode(query)}", status_code=303)
