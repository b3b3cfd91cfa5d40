"""``/v1/admin``: the operator manages clients with the admin key (GATEWAY_ADMIN_KEY)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.domain.signing import SigningMode
from gateway.errors import (
    BrokerTargetRefused,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from gateway.http.auth import ADMIN_SECURITY, admin_guard
from gateway.http.bodies import read_body
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation, body_operation
from gateway.service import Services
from gateway.service.clients import (
    ClientView,
    NewClientCredentials,
    RotatedSecret,
    RotatedSigningKey,
)

ClientName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f]+$",
        extra={"expected": "a name of 1 to 200 characters without control characters"},
    ),
]


class NewClient(msgspec.Struct, frozen=True):
    name: ClientName


AllowEntry = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class ClientChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``PATCH /v1/admin/clients/{id}``: the settings of one client; a field left out keeps
    its value."""

    # Broker targets without credentials whose name may end in "*" (a prefix): what the
    # client's subscriptions may publish to. [] allows no broker.
    broker_allowlist: Annotated[list[AllowEntry], msgspec.Meta(max_length=100)] | None = None
    # How its webhooks are signed: "hmac" (v1), "ed25519" (v1a), or "both".
    signing: SigningMode | None = None


class AdminController(Controller):
    path = "/v1/admin/clients"
    tags = ["admin"]
    security = ADMIN_SECURITY

    @post(
        "/",
        status_code=201,
        summary="Create a client; its key and secret are shown only now",
        operation_id="createClient",
        operation_class=body_operation(NewClient),
        responses=documented_errors(
            InvalidRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType
        ),
    )
    async def create(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> NewClientCredentials:
        new = await read_body(request, NewClient, lead="The client is invalid")
        return await services.clients.create(new.name)

    @get(
        "/",
        summary="List clients (never their keys or secrets)",
        operation_id="listClients",
        responses=documented_errors(Unauthorized),
    )
    async def list_clients(self, services: NamedDependency[Services]) -> list[ClientView]:
        return await services.clients.listing()

    @patch(
        "/{client_id:str}",
        summary="Change a client's broker allow-list or signing mode",
        description=(
            "Only the fields given change. `broker_allowlist`: broker targets without "
            "credentials (`amqp://10.0.0.5:5672/%2F?exchange=orders-*`, "
            "`nats://10.0.0.6:4222?subject=video.*`, `redis://10.0.0.7:6379/0?stream=video-*`), "
            "a trailing `*` in the name a prefix. `signing`: `hmac` (`v1`), `ed25519` (`v1a`; a "
            "key is made the first time) or `both`; the public keys are at "
            "`GET /v1/signing-keys/{client_id}`."
        ),
        operation_id="updateClient",
        operation_class=body_operation(ClientChange),
        responses=documented_errors(
            InvalidRequest,
            BrokerTargetRefused,
            Unauthorized,
            NotFound,
            PayloadTooLarge,
            UnsupportedMediaType,
        ),
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        client_id: FromPath[str],
    ) -> ClientView:
        change = await read_body(request, ClientChange, lead="The change is invalid")
        return await services.clients.configure(
            client_id, broker_allowlist=change.broker_allowlist, signing=change.signing
        )

    @post(
        "/{client_id:str}/rotate-signing-key",
        status_code=200,
        summary="New ed25519 signing key; the old one keeps signing (second) during the grace",
        operation_id="rotateClientSigningKey",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def rotate_signing_key(
        self, services: NamedDependency[Services], client_id: FromPath[str]
    ) -> RotatedSigningKey:
        return await services.clients.rotate_signing_key(client_id)

    @post(
        "/{client_id:str}/revoke",
        status_code=200,
        summary="Revoke a client's key at once",
        operation_id="revokeClient",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def revoke(
        self, services: NamedDependency[Services], client_id: FromPath[str]
    ) -> ClientView:
        return await services.clients.revoke(client_id)

    @post(
        "/{client_id:str}/rotate-secret",
        status_code=200,
        summary="New webhook secret; the old one keeps signing (second) during the grace period",
        operation_id="rotateClientSecret",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def rotate(
        self, services: NamedDependency[Services], client_id: FromPath[str]
    ) -> RotatedSecret:
        return await services.clients.rotate_secret(client_id)


def admin_routes(admin_key: str) -> Router:
    """The operator's routes, each behind the admin key."""
    return Router(path="/", route_handlers=[AdminController], guards=[admin_guard(admin_key)])
