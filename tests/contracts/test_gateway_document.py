"""What the gateway's OpenAPI document promises callers: every reference resolves, the job body is
the real schema, statuses and event types are enums, every error is the one shape, the webhooks
are described, and the unauthenticated routes say so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from gateway.app import create_app
from gateway.domain.catalogue import Catalogue, FieldSpec, ModelSpec, common_fields
from gateway.domain.events import EVENT_TYPES, OPERATIONAL_EVENT_TYPES, EventType
from gateway.domain.jobs import JobStatus
from gateway.settings import Settings

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings(), run_worker=False).openapi_schema.to_schema()
    return schema


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = [node["$ref"] for node in _walk(document) if isinstance(node, dict) and "$ref" in node]
    assert refs, "a document without references checks nothing"
    for ref in refs:
        assert ref.startswith("#/"), ref
        _resolve(document, ref)  # KeyError names the dangling one


def test_the_job_body_is_the_real_schema_with_an_example(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert "JobRequest" == schema["title"]
    # Any model: which fields it needs is the model's (GET /v1/models/{id}), so none is required
    # here and a generated client can pass every model's own fields through.
    assert [] == schema.get("required", [])
    assert schema["additionalProperties"] is True
    assert {"model", "prompt", "callback_url", "metadata", "events"} <= set(schema["properties"])
    assert body["example"]["prompt"]
    assert body["example"]["callback_url"].startswith("https://")


def test_statuses_and_event_types_are_enums(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    status = _resolve(document, schemas["JobView"]["properties"]["status"]["$ref"])
    assert {s.value for s in JobStatus} == set(status["enum"])
    event_type = schemas["DeliveryView"]["properties"]["event_type"]
    every = set(EVENT_TYPES.values()) | set(OPERATIONAL_EVENT_TYPES)
    assert every == set(get_args(EventType)) == set(event_type["enum"])
    state = _resolve(document, schemas["DeliveryView"]["properties"]["state"]["$ref"])
    assert {"pending", "delivered", "dead", "gone"} == set(state["enum"])


def test_every_documented_error_is_the_one_error_shape(document: dict[str, Any]) -> None:
    """No framework bodies (detail/extra/status_code): exactly what the handlers send. The
    drop-in ``/v2`` surface is the one documented exception: it answers the upstream's shape."""
    seen = 0
    for path, method, operation in _operations(document):
        if path.startswith("/v2/"):
            continue
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                seen += 1
                schemas = [media["schema"] for media in response["content"].values()]
                assert [{"$ref": ERROR_REF}] == schemas, f"{method} {path} {status}"
    assert seen > 10
    error = document["components"]["schemas"]["ErrorResponse"]
    assert ["error"] == error["required"]


def test_path_parameter_reads_document_no_400(document: dict[str, Any]) -> None:
    """A job id is any string: reading one cannot be a bad request (503: the store is down)."""
    for path in ("/v1/jobs/{job_id}", "/v1/jobs/{job_id}/deliveries"):
        assert {"200", "401", "404", "503"} == set(document["paths"][path]["get"]["responses"])


def test_system_routes_need_no_key(document: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert [] == document["paths"][path]["get"]["security"], path


def test_every_event_type_is_a_documented_webhook(document: dict[str, Any]) -> None:
    assert set(get_args(EventType)) == set(document["webhooks"])
    for event_type, item in document["webhooks"].items():
        operation = item["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers
        payload = operation["requestBody"]["content"]["application/json"]["schema"]
        assert event_type == payload["properties"]["type"]["const"]
        data = payload["properties"]["data"]
        if event_type in OPERATIONAL_EVENT_TYPES:  # about a client: no job in it
            assert "object" == data["type"]
            assert data["required"]
        else:
            assert "#/components/schemas/JobView" == data["$ref"]


def test_every_operation_has_a_readable_stable_id(document: dict[str, Any]) -> None:
    """camelCase ids chosen by hand (``createJob``), never the framework's made-up ones
    (``V1ModelsListModels``): a generated client's function names come from them."""
    ids = [operation.get("operationId", "") for _, _, operation in _operations(document)]
    ids += [item["post"]["operationId"] for item in document["webhooks"].values()]
    assert [] == [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i)]
    assert len(ids) == len(set(ids))
    assert {"listModels", "getModel", "createVideoGeneration", "getVideoGeneration"} <= set(ids)


def test_the_fields_most_models_take_are_typed(document: dict[str, Any]) -> None:
    """From the catalogue: the fields at least half the models take, with the type (nearly)
    all of those agree on; every other field stays open (``additionalProperties``)."""
    schema = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    typed = {
        name: spec["anyOf"][0]["type"]  # then null and text: "not given", or to be coerced
        for name, spec in schema["properties"].items()
        if name in {"duration", "resolution", "aspect_ratio", "image_url"}
    }
    assert {
        "duration": "integer",
        "resolution": "string",
        "aspect_ratio": "string",
        "image_url": "string",
    } == typed
    assert "seed" not in schema["properties"]  # taken by a third of the models: left open
    assert schema["additionalProperties"] is True
    for body in ("application/json", "application/x-www-form-urlencoded"):
        for path in ("/v1/subscriptions", "/v1/deliveries/replay", "/v1/admin/clients"):
            assert body in document["paths"][path]["post"]["requestBody"]["content"], path


def test_common_fields_follow_the_catalogue() -> None:
    """A field is typed by share and agreement, not by a list kept by hand: ``duration`` (an
    integer in 19 models of 20, a number in one) and ``image_url`` (a string, or a string or
    an array) are; ``style`` (a string or an object, half and half) and ``rare`` (one model)
    are not."""

    def model(n: int) -> ModelSpec:
        image_url = (
            FieldSpec(any_of=[FieldSpec(type="string"), FieldSpec(type="array")])
            if n == 0
            else FieldSpec(type="string")
        )
        properties = {
            "model": FieldSpec(type="string"),
            "duration": FieldSpec(type="integer" if n else "number"),
            "style": FieldSpec(type="string" if n % 2 else "object"),
            "image_url": image_url,
        }
        if n == 0:
            properties["rare"] = FieldSpec(type="boolean")
        return ModelSpec(id=f"m{n}", vendor="v", source="s", required=[], properties=properties)

    catalogue = Catalogue(models=[model(n) for n in range(20)])
    assert [("duration", "integer", 20), ("image_url", "string", 20)] == [
        (f.name, f.type, f.models) for f in common_fields(catalogue)
    ]
