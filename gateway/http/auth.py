"""Who is calling: a client (``Authorization: Bearer <key>``) or the operator (admin key)."""

from __future__ import annotations

import hmac
from typing import Any

import structlog
from litestar import Request

from gateway.errors import Unauthorized
from gateway.http.state import gateway_of
from gateway.service.clients import authenticate
from gateway.store.records import ClientRecord

CLIENT_SECURITY: list[dict[str, list[str]]] = [{"ClientKey": []}]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"AdminKey": []}]


def bearer(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def current_client(request: Request[Any, Any, Any]) -> ClientRecord:
    """Litestar dependency: the authenticated, not revoked client; else 401."""
    key = bearer(request)
    if not key:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'")
    client = await authenticate(gateway_of(request).runtime.store, key)
    if client is None:
        raise Unauthorized("The API key is not valid (unknown or revoked)")
    request.state.client_id = client.id  # for the access log
    structlog.contextvars.bind_contextvars(client_id=client.id)
    return client


async def require_admin(request: Request[Any, Any, Any]) -> None:
    """Litestar dependency: the operator's admin key; refused when none is configured."""
    expected = gateway_of(request).runtime.settings.admin_key
    given = bearer(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("This endpoint needs the admin key (GATEWAY_ADMIN_KEY)")
