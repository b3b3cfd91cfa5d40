"""What the gateway's OpenAPI document promises callers: every reference resolves, the job body is
the real schema, statuses and event types are enums, every error is the one shape, the webhooks
are described, and the unauthenticated routes say so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import pytest

from gateway.app import create_app
from gateway.domain.events import EVENT_TYPES, EventType
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
    assert set(EVENT_TYPES.values()) == set(get_args(EventType)) == set(event_type["enum"])
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
        assert "#/components/schemas/JobView" == payload["properties"]["data"]["$ref"]
