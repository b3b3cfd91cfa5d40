"""The drop-in ``/v2/video/generations``: the upstream's own API, served by the gateway.

Code written against the AI/ML API switches only its base URL and key. A thin translation over
the same intake and views as ``/v1/jobs``: the body is the upstream's (plus the gateway's
optional ``callback_url``, ``metadata``, ``events``), the request becomes an ordinary job, and the
job's id is the ``id`` / ``generation_id``. Errors answer in the upstream's shape (see
``gateway.http.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.params import QueryParameter

from gateway.errors import (
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from gateway.http.auth import CLIENT_SECURITY, current_client
from gateway.http.bodies import request_fields
from gateway.http.errors import documented_errors, upstream_echo
from gateway.http.jobs import IdempotencyKey, accept
from gateway.http.openapi import GatewayOperation, job_request_form_schema, job_request_schema
from gateway.http.parsing import convert_job_request
from gateway.service import Services
from gateway.service.intake import INTAKE_ERRORS
from gateway.service.views import GenerationView, generation_view
from gateway.store.records import ClientRecord

PATH = "/v2/video/generations"


@dataclass
class _GenerationRequestBody(GatewayOperation):
    """The upstream's body (``model`` required, as there) plus the gateway's optional fields."""

    def __post_init__(self) -> None:
        # The same schema as POST /v1/jobs (inline: it is no shared component), model required.
        super().__post_init__()
        schema = Schema(all_of=[job_request_schema(), Schema(required=["model"])])
        form = Schema(all_of=[job_request_form_schema(), Schema(required=["model"])])
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(schema=schema),
                "application/x-www-form-urlencoded": OpenAPIMediaType(schema=form),
            },
            description=(
                "The upstream's generation body; optionally callback_url, metadata, events, "
                "keep_output."
            ),
        )


class DropInController(Controller):
    path = PATH
    tags = ["drop-in (upstream API)"]
    security = CLIENT_SECURITY
    dependencies = {"client": Provide(current_client)}

    @post(
        "/",
        status_code=200,
        operation_class=_GenerationRequestBody,
        responses=documented_errors(
            *INTAKE_ERRORS,
            Unauthorized,
            PayloadTooLarge,
            UnsupportedMediaType,
            drop_in=True,
        ),
        summary="Create a video generation (the upstream's own call)",
        operation_id="createVideoGeneration",
        description=(
            "Answers {id, status: 'queued'} once the job is committed; the id is the job's id, "
            "visible in /v1/jobs too. Errors come in the upstream's shape and words."
        ),
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[GenerationView]:
        fields = await request_fields(request)
        if fields.get("model") in (None, ""):  # the upstream requires it; /v1 has a default
            raise InvalidRequest(
                "model is required", details=[{"field": "model", "message": "is required"}]
            )
        accepted = await accept(
            request,
            services.jobs,
            client,
            convert_job_request(fields),
            idempotency_key=idempotency_key,
        )
        headers = {"x-inference-id": accepted.job.id, **upstream_echo(request)}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(generation_view(accepted.job), status_code=200, headers=headers)

    @get(
        "/",
        operation_class=GatewayOperation,
        responses=documented_errors(InvalidRequest, Unauthorized, NotFound, drop_in=True),
        summary="Get a video generation (the upstream's own call)",
        operation_id="getVideoGeneration",
        description=(
            "status is queued, generating, completed or error; video.url when completed, "
            "error {name, message} when failed, meta.usage as the upstream reported it."
        ),
    )
    async def poll(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientRecord],
        services: NamedDependency[Services],
        # Documented as required (as upstream); checked here to name it in a 400 the upstream's way.
        generation_id: Annotated[str | None, QueryParameter(required=True)] = None,
    ) -> Response[GenerationView]:
        if generation_id is None:  # missing is a validation error; empty is unknown (a 404)
            raise InvalidRequest(
                "generation_id is required",
                details=[{"field": "generation_id", "message": "is required"}],
            )
        job = await services.jobs.owned(generation_id, client_id=client.id)
        return Response(
            generation_view(job), headers={"x-inference-id": job.id, **upstream_echo(request)}
        )
