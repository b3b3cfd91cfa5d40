"""OpenAPI details Litestar cannot infer, through its documented seams.

- the request bodies, which the gateway reads itself (JSON or a form, ``gateway.http.bodies``):
  an ``operation_class`` per route (``body_operation``, ``JobRequestOperation``);
- errors in the one error shape only: an ``operation_class`` that leaves out the framework's own
  validation-error body (this API never sends it; its exception handler rewrites every error);
- no authentication on health, readiness and metrics (``security: []``);
- the webhook events (OpenAPI 3.1 ``webhooks``), security schemes, tags: ``OpenAPIConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    License,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Tag,
)

from gateway.catalogue import load_catalogue
from gateway.domain.catalogue import common_fields
from gateway.domain.events import (
    ALL_EVENT_TYPES,
    DELIVERY_EXHAUSTED,
    OPERATIONAL_EVENT_TYPES,
    SUBSCRIPTION_DISABLED,
)
from gateway.domain.generation import JobRequest
from gateway.errors import NOT_PER_OPERATION
from gateway.http.docs import docs_plugin

_KEYWORDS = {
    "maxLength": "max_length",
    "minLength": "min_length",
    "maximum": "maximum",
    "minimum": "minimum",
    "maxItems": "max_items",
    "minItems": "min_items",
    "maxProperties": "max_properties",
    "enum": "enum",
    "default": "default",
    "description": "description",
    "title": "title",
    "required": "required",
    "format": "format",
    "pattern": "pattern",
}


def schema_from_msgspec(struct: type[Any]) -> Schema:
    """A Litestar ``Schema`` from msgspec's JSON Schema of ``struct``, with refs inlined."""
    document = msgspec.json.schema(struct)
    defs = document.get("$defs", {})

    def convert(node: dict[str, Any]) -> Schema:
        if "$ref" in node:
            return convert(defs[node["$ref"].rsplit("/", 1)[-1]])
        kwargs: dict[str, Any] = {}
        for key, value in node.items():
            if key == "type":
                kwargs["type"] = (
                    [OpenAPIType(v) for v in value]
                    if isinstance(value, list)
                    else OpenAPIType(value)
                )
            elif key == "properties":
                kwargs["properties"] = {name: convert(sub) for name, sub in value.items()}
            elif key == "items":
                kwargs["items"] = convert(value)
            elif key in ("anyOf", "oneOf", "allOf"):
                kwargs[{"anyOf": "any_of", "oneOf": "one_of", "allOf": "all_of"}[key]] = [
                    convert(sub) for sub in value
                ]
            elif key == "additionalProperties":
                kwargs["additional_properties"] = (
                    convert(value) if isinstance(value, dict) else value
                )
            elif key == "propertyNames":
                continue  # not in OpenAPI 3.1's Schema object as Litestar models it
            elif key in _KEYWORDS:
                kwargs[_KEYWORDS[key]] = value
        return Schema(**kwargs)

    schema = convert(document)
    if not struct.__struct_config__.forbid_unknown_fields:
        schema.additional_properties = True  # the body takes the chosen model's fields too
    return schema


# The README's example: what the docs UI pre-fills for "Try it out".
JOB_REQUEST_EXAMPLE: dict[str, Any] = {
    "prompt": "Mona Lisa puts on glasses with her hands.",
    "image_url": (
        "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/"
        "mona_lisa_extended.jpg"
    ),
    "duration": 7,
    "resolution": "720p",
    "callback_url": "https://example.com/hooks/video",
    "metadata": {"order_id": "42"},
    "events": ["completed", "failed"],
}


def _is_framework_error_body(response: Any) -> bool:
    """Litestar's own ValidationException body (detail/extra/status_code), inlined: never sent."""
    if not isinstance(response, OpenAPIResponse) or not response.content:
        return False
    return any(not isinstance(media.schema, Reference) for media in response.content.values())


@dataclass
class GatewayOperation(Operation):
    """Every documented error answer is the ``ErrorResponse`` component, exactly as sent.

    Litestar adds a 400 with its own ValidationException body to any operation with parameters;
    the gateway's exception handler answers every error in the one shape instead, so that entry is
    left out here and each handler lists its real errors with ``documented_errors``.
    """

    def __post_init__(self) -> None:
        if self.responses:
            self.responses = {
                status: response
                for status, response in self.responses.items()
                if not (status.startswith(("4", "5")) and _is_framework_error_body(response))
            }


@dataclass
class PublicOperation(GatewayOperation):
    """No authentication, an explicit empty requirement: health, readiness and metrics, the kept
    videos' signed links, and a client's public signing keys."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.security = []


def job_request_schema() -> Schema:
    """Any model's body: ``model`` chooses which fields apply; every other field is the model's
    own, as the upstream takes it (``GET /v1/models/{id}`` lists them). The fields most models
    take (``common_fields`` of the catalogue: prompt, duration, aspect_ratio, …) are typed, so
    that a generated client has attributes for them; the rest stay open
    (``additionalProperties``), not a union of every model's body."""
    schema = schema_from_msgspec(JobRequest)
    schema.title = "JobRequest"
    schema.description = (
        "model (default alibaba/happyhorse-1-0) chooses which fields apply: every other field is "
        "the model's own, as the upstream takes it (GET /v1/models/{id} lists them); "
        "callback_url, metadata, events and keep_output are the gateway's. The fields most "
        "models take are typed here; their values and limits are each model's own."
    )
    properties = dict(schema.properties or {})
    for common in common_fields(load_catalogue()):
        described = (
            f"Taken by {common.models} of the {common.of} models; its values and limits are "
            "the chosen model's (GET /v1/models/{id})."
        )
        known = properties.get(common.name)
        if isinstance(known, Schema):
            known.description = known.description or described
            continue
        properties[common.name] = Schema(type=OpenAPIType(common.type), description=described)
    # Every field is optional (the model's rules say which it needs), and read leniently.
    schema.properties = {
        name: as_read(field) if isinstance(field, Schema) else field
        for name, field in properties.items()
    }
    schema.additional_properties = True
    return schema


def job_request_form_schema() -> Schema:
    """The same fields as a form (Zapier): every value is text, coerced as in JSON."""
    value = Schema(type=OpenAPIType.STRING)
    return Schema(
        type=OpenAPIType.OBJECT,
        title="JobRequestForm",
        description=(
            "The JobRequest fields as form values: numbers and booleans as text, an empty value "
            "means not given, a list as a repeated key (events may also be comma-separated), "
            "metadata as metadata[key]=value."
        ),
        properties={"model": Schema(type=OpenAPIType.STRING, min_length=1)},
        additional_properties=Schema(one_of=[value, Schema(type=OpenAPIType.ARRAY, items=value)]),
    )


def _kinds(field: Schema) -> list[Schema]:
    """The alternatives a field's schema allows, one type each."""
    if field.any_of:
        return [kind for kind in field.any_of if isinstance(kind, Schema)]
    if isinstance(field.type, list):
        return [Schema(type=kind) for kind in field.type]
    own = {k: v for k, v in vars(field).items() if k not in ("description", "default")}
    return [Schema(**own)]


_AS_TEXT = {
    OpenAPIType.ARRAY: "the items, comma-separated; blank: not given",
    OpenAPIType.OBJECT: "a JSON object as text; blank: not given",
}


def as_read(field: Schema) -> Schema:
    """An optional field as ``gateway.http.bodies`` and ``gateway.http.parsing`` read it: also
    null or blank (not given), and as text where it is no string (an array comma-separated, an
    object as JSON, a number or a boolean to be coerced)."""
    kinds = _kinds(field)
    types = {kind.type for kind in kinds}
    extra = []
    if OpenAPIType.NULL not in types:
        extra.append(Schema(type=OpenAPIType.NULL))
    strings = [kind for kind in kinds if kind.type == OpenAPIType.STRING]
    if not strings:
        words = next(
            (_AS_TEXT[t] for t in (OpenAPIType.ARRAY, OpenAPIType.OBJECT) if t in types), None
        )
        extra.append(
            Schema(type=OpenAPIType.STRING, description=words or "as text; blank: not given")
        )
    elif all(kind.min_length or kind.format or kind.pattern for kind in strings):
        extra.append(Schema(type=OpenAPIType.STRING, max_length=0, description="blank: not given"))
    return Schema(any_of=[*kinds, *extra], description=field.description, default=field.default)


def body_schema(struct: type[msgspec.Struct], aliases: Mapping[str, str] | None = None) -> Schema:
    """A body's schema as ``gateway.http.bodies`` reads it, titled with the struct's name: an
    optional field may also be null or blank (not given), an array field one comma-separated
    string (``as_read``), and each alias is documented as another name of its field. Unknown
    fields: refused when the struct forbids them (``additionalProperties: false``), else
    ignored (not said)."""
    schema = schema_from_msgspec(struct)
    schema.title = struct.__name__
    forbids = struct.__struct_config__.forbid_unknown_fields
    schema.additional_properties = False if forbids else None
    required = set(schema.required or [])
    properties: dict[str, Schema | Reference] = {
        name: as_read(field) if isinstance(field, Schema) and name not in required else field
        for name, field in (schema.properties or {}).items()
    }
    for alias, target in (aliases or {}).items():
        original = properties[target]
        if isinstance(original, Schema):
            properties[alias] = Schema(
                any_of=original.any_of, description=f"Another name for {target}."
            )
    schema.properties = properties
    return schema


def body_operation(
    struct: type[msgspec.Struct], aliases: Mapping[str, str] | None = None
) -> type[GatewayOperation]:
    """The operation class of a route whose body is ``struct`` (read by
    ``gateway.http.bodies``, not by Litestar, which documents only what it parses itself): the
    struct's schema as JSON and as a form (where an array is a repeated key, OpenAPI's default
    encoding of a form).

    The body is marked optional although a request without one is refused (400, naming the
    missing fields): ``openapi-python-client`` (0.29) writes ``| Unset`` into the signature of
    a required body with two media types without importing ``Unset``, so the generated module
    would not import (its issue 1451). The description says it is required."""

    @dataclass
    class BodyOperation(GatewayOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            schema = body_schema(struct, aliases)
            self.request_body = RequestBody(
                required=False,
                description="Required: JSON or a form.",
                content={
                    "application/json": OpenAPIMediaType(schema=schema),
                    "application/x-www-form-urlencoded": OpenAPIMediaType(schema=schema),
                },
            )

    BodyOperation.__name__ = BodyOperation.__qualname__ = f"{struct.__name__}Operation"
    return BodyOperation


@dataclass
class JobRequestOperation(GatewayOperation):
    """``POST /v1/jobs``: the body the gateway parses itself, as JSON or as a form (Zapier)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        schema = job_request_schema()
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(schema=schema, example=JOB_REQUEST_EXAMPLE),
                "application/x-www-form-urlencoded": OpenAPIMediaType(
                    schema=job_request_form_schema()
                ),
            },
            description=(
                "The generation (the upstream's fields) plus callback_url, metadata, events and "
                "keep_output. In a form, repeat a key for a list and write metadata[key]=value."
            ),
        )


def _header(name: str, description: str, pattern: str) -> Parameter:
    return Parameter(
        name=name,
        param_in="header",
        required=True,
        description=description,
        schema=Schema(type=OpenAPIType.STRING, pattern=pattern),
    )


WEBHOOK_HEADERS = [
    _header(
        "webhook-id",
        "The event id: the same on every attempt and redelivery; deduplicate on it.",
        r"^msg_[a-z2-7]+$",
    ),
    _header("webhook-timestamp", "Unix seconds when this attempt was signed.", r"^[0-9]+$"),
    _header(
        "webhook-signature",
        "v1,<base64 HMAC-SHA256 of id.timestamp.body>; two, space-separated, while a secret "
        "rotation is in its grace period. Verify with any Standard Webhooks library.",
        r"^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$",
    ),
    Parameter(
        name="traceparent",
        param_in="header",
        required=False,
        description="W3C trace context of the delivery attempt (when the job was sent with one).",
        schema=Schema(type=OpenAPIType.STRING),
    ),
]


def _text(description: str, *, nullable: bool = False) -> Schema:
    kind = [OpenAPIType.STRING, OpenAPIType.NULL] if nullable else OpenAPIType.STRING
    return Schema(type=kind, description=description)


def _number(description: str, *, nullable: bool = False) -> Schema:
    kind = [OpenAPIType.INTEGER, OpenAPIType.NULL] if nullable else OpenAPIType.INTEGER
    return Schema(type=kind, description=description)


# The ``data`` of the operational events (about a client, not a job).
OPERATIONAL_DATA: dict[str, Schema] = {
    SUBSCRIPTION_DISABLED: Schema(
        type=OpenAPIType.OBJECT,
        description="A subscription switched off: every delivery failed for "
        "GATEWAY_SUBSCRIPTION_DISABLE_AFTER with at least 10 exhausted. "
        "POST /v1/subscriptions/{id}/enable turns it back on.",
        required=["subscription_id", "target_url", "reason", "disabled_at"],
        properties={
            "subscription_id": _text("The subscription disabled"),
            "target_url": _text("Where it was sending"),
            "reason": _text("failing"),
            "disabled_at": _text("When (RFC 3339)"),
            "failing_since": _text("Every delivery failed since then", nullable=True),
            "dead_deliveries": _number("Deliveries exhausted since the last success"),
        },
    ),
    DELIVERY_EXHAUSTED: Schema(
        type=OpenAPIType.OBJECT,
        description="One of your job events ran out of attempts (a dead letter; replay it "
        "from the console or redeliver the job).",
        required=["event_id", "event_type", "job_id", "attempts"],
        properties={
            "event_id": _text("The event that went dead (its webhook-id)"),
            "event_type": _text("Its type"),
            "job_id": _text("Its job"),
            "subscription_id": _text(
                "The subscription it was for; null: the job's callback_url", nullable=True
            ),
            "attempts": _number("Attempts made"),
            "last_status_code": _number("The last answer's status", nullable=True),
            "last_error": _text("The last attempt's error", nullable=True),
        },
    ),
}


def webhook_payload_schema(event_type: str) -> Schema:
    data = OPERATIONAL_DATA.get(event_type) or Reference(ref="#/components/schemas/JobView")
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "timestamp", "data"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, const=event_type),
            "timestamp": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
            "data": data,
        },
    )


def _webhook_summary(event_type: str) -> tuple[str, str]:
    """The operation id and summary of ``event_type``'s webhook."""
    if event_type in OPERATIONAL_EVENT_TYPES:
        words = event_type.replace(".", " ").title().replace(" ", "")
        return f"webhook{words}", (
            f"{event_type}: news about you rather than a job, to the subscriptions asking for it"
        )
    stage = event_type.rsplit(".", 1)[-1]
    return f"webhook{stage.capitalize()}", f"{event_type}: the job is {stage}"


def webhooks() -> dict[str, PathItem | Reference]:
    """One entry per event type: what the gateway POSTs to a job's callback_url or a
    subscription's target (the operational events: to subscriptions only)."""
    hooks: dict[str, PathItem | Reference] = {}
    for event_type in ALL_EVENT_TYPES:
        operation_id, summary = _webhook_summary(event_type)
        hooks[event_type] = PathItem(
            post=Operation(
                operation_id=operation_id,
                summary=summary,
                description=(
                    "Signed per Standard Webhooks. Answer 2xx to acknowledge; 410 Gone stops all "
                    "further attempts; anything else is retried on the delivery schedule."
                ),
                tags=["webhooks"],
                security=[],
                parameters=list(WEBHOOK_HEADERS),
                request_body=RequestBody(
                    required=True,
                    content={
                        "application/json": OpenAPIMediaType(
                            schema=webhook_payload_schema(event_type)
                        )
                    },
                ),
                responses={
                    "200": OpenAPIResponse(description="Received (any 2xx)"),
                    "410": OpenAPIResponse(description="Gone: send this receiver nothing more"),
                },
            )
        )
    return hooks


def openapi_config(*, version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Video webhook gateway",
        version=version,
        description=(
            "Submit an AI/ML API video generation with a callback URL; receive one signed "
            "webhook (Standard Webhooks) when the video is ready. Errors share one shape: "
            '{"error": {"code", "message", "details"}}, except under /v2/ (the drop-in copy of '
            "the upstream's own API), which answers in the upstream's error shape "
            '(UpstreamErrorResponse: {"message", "path", "requestId", "statusCode", "timestamp"}). '
            "Each operation lists the error codes it answers; besides those, "
            + "; ".join(f"{cls.status_code} {cls.code}: {cls.summary}" for cls in NOT_PER_OPERATION)
            + "."
        ),
        license=License(name="MIT", identifier="MIT"),
        path="/schema",
        render_plugins=[docs_plugin(), JsonRenderPlugin()],
        tags=[
            Tag(name="jobs", description="Accept, read and list jobs; their webhook deliveries"),
            Tag(name="deliveries", description="Webhook deliveries across jobs"),
            Tag(
                name="outputs",
                description="Kept videos and posters, through their signed links (no key)",
            ),
            Tag(name="admin", description="Client management, with the admin key"),
            Tag(
                name="signing-keys",
                description="Public keys for v1a (ed25519) webhook signatures (no key)",
            ),
            Tag(name="system", description="Liveness, readiness and metrics (no key)"),
            Tag(
                name="webhooks",
                description="What the gateway sends to a job's callback_url and to subscriptions",
            ),
        ],
        webhooks=webhooks(),
        components=Components(
            security_schemes={
                "ClientKey": SecurityScheme(
                    type="http", scheme="bearer", description="Your client API key"
                ),
                "ClientBasic": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="Your client API key as the user name (any password)",
                ),
                "AdminKey": SecurityScheme(
                    type="http", scheme="bearer", description="The operator's GATEWAY_ADMIN_KEY"
                ),
            },
        ),
    )
