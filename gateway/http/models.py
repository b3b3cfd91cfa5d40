"""``/v1/models``: every upstream video model the gateway knows, and each one's fields."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from gateway.errors import NotFound, Unauthorized
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.errors import documented_errors
from gateway.http.openapi import GatewayOperation
from gateway.http.state import gateway_of
from gateway.service.models import ModelList, ModelView, model_list, model_view
from gateway.store.records import ClientRecord


class ModelController(Controller):
    path = "/v1/models"
    tags = ["models"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @get(
        "/",
        summary="Every video model: vendor, required fields, each field's rules",
        responses=documented_errors(Unauthorized),
        operation_class=GatewayOperation,
    )
    async def list_models(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        vendor: Annotated[
            str | None, QueryParameter(description="only this vendor's models")
        ] = None,
    ) -> ModelList:
        return model_list(gateway_of(request).runtime.rulebook, vendor)

    @get(
        "/{model_id:path}",
        summary="One model's fields (ids contain '/': the rest of the path is the id)",
        responses=documented_errors(Unauthorized, NotFound),
        operation_class=GatewayOperation,
    )
    async def get_model(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        model_id: FromPath[str],
    ) -> ModelView:
        rulebook = gateway_of(request).runtime.rulebook
        wanted = model_id.lstrip("/")
        rules = rulebook.for_model(wanted)
        if rules is None:
            close = rulebook.closest(wanted)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"No model {wanted!r}{hint}")
        return model_view(rules.spec)
