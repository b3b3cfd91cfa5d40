"""``/v1/models``: every upstream video model the gateway knows, and each one's fields."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from gateway.errors import NotFound, Unauthorized
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation
from gateway.service import Services
from gateway.service.models import ModelList, ModelView
from gateway.store.records import ClientRecord


class ModelController(Controller):
    path = "/v1/models"
    tags = ["models"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @get(
        "/",
        summary="Every video model: vendor, required fields, each field's rules",
        operation_id="listModels",
        responses=documented_errors(Unauthorized),
        operation_class=GatewayOperation,
    )
    async def list_models(
        self,
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        vendor: Annotated[
            str | None, QueryParameter(description="only this vendor's models")
        ] = None,
    ) -> ModelList:
        return services.catalogue.listing(vendor)

    @get(
        "/{model_id:path}",
        summary="One model's fields (ids contain '/': the rest of the path is the id)",
        operation_id="getModel",
        responses=documented_errors(Unauthorized, NotFound),
        operation_class=GatewayOperation,
    )
    async def get_model(
        self,
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        model_id: FromPath[str],
    ) -> ModelView:
        return services.catalogue.get(model_id.lstrip("/"))
