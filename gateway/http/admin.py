"""``/v1/admin``: the operator manages clients with the admin key (GATEWAY_ADMIN_KEY)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from gateway.errors import InvalidRequest, NotFound, Unauthorized
from gateway.http.auth import ADMIN_SECURITY, require_admin
from gateway.http.errors import documented_errors, keep_body
from gateway.http.openapi import GatewayOperation
from gateway.http.state import gateway_of
from gateway.service.clients import (
    ClientView,
    NewClientCredentials,
    RotatedSecret,
    client_view,
    create_client,
    revoke_client,
    rotate_secret,
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


class AdminController(Controller):
    path = "/v1/admin/clients"
    tags = ["admin"]
    security = ADMIN_SECURITY
    dependencies = {"admin": Provide(require_admin)}

    @post(
        "/",
        status_code=201,
        summary="Create a client; its key and secret are shown only now",
        operation_id="createClient",
        before_request=keep_body,
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        admin: NamedDependency[None],
        data: JSONBody[NewClient],
    ) -> NewClientCredentials:
        rt = gateway_of(request).runtime
        return await create_client(rt.store, data.name, now=rt.clock())

    @get(
        "/",
        summary="List clients (never their keys or secrets)",
        operation_id="listClients",
        responses=documented_errors(Unauthorized),
    )
    async def list_clients(
        self, request: Request[Any, Any, Any], admin: NamedDependency[None]
    ) -> list[ClientView]:
        rt = gateway_of(request).runtime
        now = rt.clock()
        return [client_view(c, now=now) for c in await rt.store.clients.list()]

    @post(
        "/{client_id:str}/revoke",
        status_code=200,
        summary="Revoke a client's key at once",
        operation_id="revokeClient",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        admin: NamedDependency[None],
        client_id: FromPath[str],
    ) -> ClientView:
        rt = gateway_of(request).runtime
        client = await revoke_client(rt.store, client_id, now=rt.clock(), keys=rt.client_keys)
        if client is None:
            raise NotFound(f"No client {client_id!r}")
        return client_view(client, now=rt.clock())

    @post(
        "/{client_id:str}/rotate-secret",
        status_code=200,
        summary="New webhook secret; the old one keeps signing (second) during the grace period",
        operation_id="rotateClientSecret",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        admin: NamedDependency[None],
        client_id: FromPath[str],
    ) -> RotatedSecret:
        rt = gateway_of(request).runtime
        rotated = await rotate_secret(
            rt.store,
            client_id,
            now=rt.clock(),
            grace_s=rt.settings.secret_rotation_grace_s,
            keys=rt.client_keys,
        )
        if rotated is None:
            raise NotFound(f"No active client {client_id!r}")
        return rotated
