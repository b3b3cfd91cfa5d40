"""OpenAPI details Litestar cannot infer: the job body we parse ourselves, and security schemes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIType, Schema, SecurityScheme

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

    return convert(document)


def openapi_config(*, version: str, job_request: type[Any]) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Video webhook gateway",
        version=version,
        description=(
            "Submit an AI/ML API video generation with a callback URL; receive one signed "
            "webhook (Standard Webhooks) when the video is ready. Errors share one shape: "
            '{"error": {"code", "message", "details"}}.'
        ),
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin()],
        components=Components(
            schemas={"JobRequest": schema_from_msgspec(job_request)},
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
