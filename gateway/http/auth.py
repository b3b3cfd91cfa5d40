"""Who is calling: a client (its API key) or the operator (admin key).

A client's key is accepted two ways: ``Authorization: Bearer <key>``, and HTTP Basic with the
key as the user name and any (or no) password — the shape of Zapier's and many no-code tools'
"Basic Auth" fields. Every 401 carries ``WWW-Authenticate`` with both challenges.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from gateway.errors import Unauthorized
from gateway.service import Services
from gateway.store.records import ClientRecord

CLIENT_SECURITY: list[dict[str, list[str]]] = [{"ClientKey": []}, {"ClientBasic": []}]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"AdminKey": []}]


def bearer(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def basic_user(request: Request[Any, Any, Any]) -> str:
    """The user name of ``Authorization: Basic …`` (the API key), or "" when there is none.

    A key sent as the password with an empty user name is accepted too (some tools only have
    a password field)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    user, _, password = decoded.partition(":")
    return user.strip() or password.strip()


def client_key(request: Request[Any, Any, Any]) -> str:
    return bearer(request) or basic_user(request)


async def current_client(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> ClientRecord:
    """Litestar dependency: the authenticated, not revoked client; else 401. Served from the
    in-memory key cache (``gateway.service.client_keys``): a revocation holds at once here."""
    key = client_key(request)
    if not key:
        raise Unauthorized(
            "Send your API key as 'Authorization: Bearer <key>' "
            "(or HTTP Basic with the key as the user name)"
        )
    client = await services.client_keys.authenticate(key)
    if client is None:
        raise Unauthorized("The API key is not valid (unknown or revoked)")
    request.state.client_id = client.id  # for the access log
    structlog.contextvars.bind_contextvars(client_id=client.id)
    return client


def admin_guard(admin_key: str) -> Guard:
    """A Litestar guard for the operator's routes: the admin key (GATEWAY_ADMIN_KEY) as a
    bearer token; every request is refused when none is configured."""

    def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = bearer(connection)
        if (
            not admin_key
            or not given
            or not hmac.compare_digest(given.encode(), admin_key.encode())
        ):
            raise Unauthorized("This endpoint needs the admin key (GATEWAY_ADMIN_KEY)")

    return require_admin
