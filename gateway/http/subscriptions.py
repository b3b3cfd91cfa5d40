"""``/v1/subscriptions``: REST hooks (Zapier's instant triggers) and their sample list.

``POST`` answers 201 with the subscription (its ``id`` is what Zapier's subscribe step stores
and later passes to ``DELETE``); another client's id answers 404, exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from gateway.errors import (
    BrokerTargetRefused,
    CallbackRejected,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    TooManySubscriptions,
    Unauthorized,
    UnsupportedMediaType,
)
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.bodies import read_body
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation, body_operation
from gateway.service import Services
from gateway.service.subscriptions import (
    NewSubscription,
    SubscriptionList,
    SubscriptionView,
)
from gateway.store.records import ClientRecord

# Zapier's REST hooks conventionally subscribe with ``{"target_url", "event"}``.
ALIASES = {"event": "events"}


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
        description=(
            "JSON or a form. Zapier's conventional `event` field is taken as `events`; a blank "
            "field means not given; in a form, repeat a key for a list (or separate with commas). "
            "`target_url` is an http(s) URL, or a message-broker target your allow-list names "
            "(`amqp://host:5672/vhost?exchange=E&routing_key=K`, `nats://host:4222?subject=S`, "
            "`redis://host:6379/0?stream=S`); credentials in a broker URL are stored apart, "
            "encrypted, and shown masked."
        ),
        operation_id="createSubscription",
        operation_class=body_operation(NewSubscription, ALIASES),
        responses=documented_errors(
            InvalidRequest,
            CallbackRejected,
            BrokerTargetRefused,
            TooManySubscriptions,
            Unauthorized,
            PayloadTooLarge,
            UnsupportedMediaType,
        ),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
    ) -> Response[SubscriptionView]:
        new = await read_body(
            request, NewSubscription, lead="The subscription is invalid", aliases=ALIASES
        )
        view = await services.subscriptions.create(client, new)
        return Response(view, status_code=201, headers={"Location": f"/v1/subscriptions/{view.id}"})

    @get(
        "/",
        summary="Your subscriptions",
        operation_id="listSubscriptions",
        operation_class=GatewayOperation,
        responses=documented_errors(Unauthorized),
    )
    async def list_subscriptions(
        self,
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
    ) -> SubscriptionList:
        return await services.subscriptions.listing(client.id)

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
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        subscription_id: FromPath[str],
    ) -> None:
        await services.subscriptions.delete(subscription_id, client_id=client.id)

    @get(
        "/sample",
        summary="Recent events in the webhook's exact shape (Zapier's performList)",
        description=(
            "Up to 3 recent finished jobs' events, newest first, each exactly as a webhook body "
            '({"type", "timestamp", "data"}); when there are none, one documented example of '
            "the first event and the first model asked for."
        ),
        operation_id="sampleSubscriptionEvents",
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized),
    )
    async def sample(
        self,
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        events: Annotated[str | None, QueryParameter(max_length=200)] = None,
        models: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    ) -> list[dict[str, Any]]:
        return await services.subscriptions.sample(
            client, events=_names(events), models=_names(models)
        )
