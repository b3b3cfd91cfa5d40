"""``/v1/subscriptions``: REST hooks (Zapier's instant triggers) and their sample list.

``POST`` answers 201 with the subscription (its ``id`` is what Zapier's subscribe step stores
and later passes to ``DELETE``); another client's id answers 404, exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.clock import iso
from gateway.errors import (
    CallbackRejected,
    InvalidRequest,
    NotFound,
    TooManySubscriptions,
    Unauthorized,
)
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.errors import documented_errors, keep_body
from gateway.http.openapi import GatewayOperation
from gateway.http.state import gateway_of
from gateway.service.subscriptions import NewSubscription, sample_events, subscribe
from gateway.store.records import ClientRecord, SubscriptionRecord


class SubscriptionView(msgspec.Struct, frozen=True):
    id: str
    target_url: str
    events: list[str]
    models: list[str] | None
    active: bool  # false once its target answered 410 Gone
    created_at: str | None
    deactivated_at: str | None = None
    deactivated_reason: str | None = None


class SubscriptionList(msgspec.Struct, frozen=True):
    data: list[SubscriptionView]


def subscription_view(sub: SubscriptionRecord) -> SubscriptionView:
    return SubscriptionView(
        id=sub.id,
        target_url=sub.target_url,
        events=sub.events,
        models=sub.models,
        active=sub.active,
        created_at=iso(sub.created_at),
        deactivated_at=iso(sub.deactivated_at),
        deactivated_reason=sub.deactivated_reason,
    )


def _names(raw: str | None) -> list[str] | None:
    parts = [part.strip() for part in (raw or "").split(",") if part.strip()]
    return parts or None


class SubscriptionController(Controller):
    path = "/v1/subscriptions"
    tags = ["subscriptions"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @post(
        "/",
        status_code=201,
        summary="Subscribe a target URL to your jobs' events (a REST hook)",
        operation_id="createSubscription",
        before_request=keep_body,
        operation_class=GatewayOperation,
        responses=documented_errors(
            InvalidRequest,
            CallbackRejected,
            TooManySubscriptions,
            Unauthorized,
        ),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        data: JSONBody[NewSubscription],
    ) -> Response[SubscriptionView]:
        gateway = gateway_of(request)
        record = await subscribe(gateway.runtime, client, data)
        return Response(
            subscription_view(record),
            status_code=201,
            headers={"Location": f"/v1/subscriptions/{record.id}"},
        )

    @get(
        "/",
        summary="Your subscriptions",
        operation_id="listSubscriptions",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized),
    )
    async def list_subscriptions(
        self, request: Request[Any, Any, Any], client: NamedDependency[ClientRecord]
    ) -> SubscriptionList:
        store = gateway_of(request).runtime.store
        subs = await store.subscriptions.list_for_client(client.id)
        return SubscriptionList(data=[subscription_view(s) for s in subs])

    @delete(
        "/{subscription_id:str}",
        status_code=204,
        summary="Unsubscribe",
        operation_id="deleteSubscription",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized, NotFound),
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        subscription_id: FromPath[str],
    ) -> None:
        store = gateway_of(request).runtime.store
        if not await store.subscriptions.delete(subscription_id, client_id=client.id):
            raise NotFound(f"No subscription {subscription_id!r}")
        gateway_of(request).runtime.log.info(
            "subscription_deleted", subscription_id=subscription_id, client_id=client.id
        )

    @get(
        "/sample",
        summary="Recent events in the webhook's exact shape (Zapier's performList)",
        description=(
            "Up to 3 recent finished jobs' events, newest first, each exactly as a webhook body "
            '({"type", "timestamp", "data"}); one documented example when there are none.'
        ),
        operation_id="sampleSubscriptionEvents",
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized),
    )
    async def sample(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        events: Annotated[str | None, QueryParameter(max_length=200)] = None,
        models: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    ) -> list[dict[str, Any]]:
        return await sample_events(
            gateway_of(request).runtime, client, events=_names(events), models=_names(models)
        )
