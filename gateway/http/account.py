"""``GET /v1/me``: who an API key belongs to (an app's authentication test, e.g. Zapier's)."""

from __future__ import annotations

import msgspec
from litestar import get
from litestar.di import NamedDependency, Provide

from gateway.clock import iso
from gateway.errors import Unauthorized
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation
from gateway.store.records import ClientRecord


class Me(msgspec.Struct, frozen=True):
    """The calling client: never its key or signing secret."""

    id: str
    name: str
    created_at: str | None


@get(
    "/v1/me",
    tags=["account"],
    security=CLIENT_SECURITY,
    dependencies={"client": Provide(current_client)},
    summary="The client this API key belongs to",
    operation_id="getMe",
    operation_class=GatewayOperation,
    responses=documented_errors(Unauthorized),
)
async def me(client: NamedDependency[ClientRecord]) -> Me:
    return Me(id=client.id, name=client.name, created_at=iso(client.created_at))
