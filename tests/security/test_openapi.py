"""The gateway's OpenAPI document: committed as a snapshot, valid, and free of secrets."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from openapi_spec_validator import validate

CONTRACTS = Path(__file__).parents[2] / "contracts"


def _snapshot_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "snapshot", CONTRACTS / "snapshot_gateway_openapi.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_snapshot_matches_the_api() -> None:
    """An API change without a refreshed snapshot fails here."""
    committed = (CONTRACTS / "gateway.openapi.json").read_text(encoding="utf-8")
    assert _snapshot_module().render() == committed, (
        "the API changed: run uv run python contracts/snapshot_gateway_openapi.py"
    )


def test_the_document_is_valid_and_documents_the_job_body_and_auth() -> None:
    """Valid OpenAPI; POST /v1/jobs documents both media types; every /v1 route needs a key,
    but the kept videos' downloads, whose signed link is the permission (403 when changed), and
    a client's public signing keys, which receivers fetch without one."""
    document = _snapshot_module().document()
    validate(document)
    post = document["paths"]["/v1/jobs"]["post"]
    assert {"application/json", "application/x-www-form-urlencoded"} == set(
        post["requestBody"]["content"]
    )
    for path, operations in document["paths"].items():
        if path.startswith("/v1/outputs/"):
            for operation in operations.values():
                assert "403" in operation["responses"], f"{path} documents no 403"
        elif path.startswith("/v1/signing-keys/"):
            for operation in operations.values():
                assert [] == operation.get("security"), f"{path} should say it needs no key"
                assert "404" in operation["responses"], f"{path} documents no 404"
        elif path.startswith("/v1"):
            for operation in operations.values():
                assert operation.get("security"), f"{path} has no security requirement"
