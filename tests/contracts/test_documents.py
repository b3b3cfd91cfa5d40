"""Every OpenAPI document in contracts/ loads and validates; the raw upstream ones do not (that
is why the patch exists), and the patched one is exactly what the patch script produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

CONTRACTS = Path(__file__).parents[2] / "contracts"
RAW = {"post.raw.json", "get.raw.json"}
DOCUMENTS = sorted(
    p
    for p in [*CONTRACTS.rglob("*.json"), *CONTRACTS.rglob("*.yaml")]
    if p.name not in RAW and "openapi" in p.name and "node_modules" not in p.parts
)


def test_there_are_documents_to_check() -> None:
    """The patched upstream document is among them (a glob that finds nothing checks nothing)."""
    assert "openapi.patched.json" in {p.name for p in DOCUMENTS}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CONTRACTS)))
def test_document_is_valid_openapi(path: Path) -> None:
    """openapi-spec-validator accepts the document."""
    document, _ = read_from_filename(str(path))
    validate(document)


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_upstream_documents_are_refused_as_published(name: str) -> None:
    """The published documents are broken (no response descriptions, an invalid `in`)."""
    document, _ = read_from_filename(str(CONTRACTS / "upstream" / name))
    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_patched_document_is_what_the_script_produces() -> None:
    """Hand edits to the patched file are caught: regenerate it with the script instead."""
    spec = importlib.util.spec_from_file_location("patch_upstream", CONTRACTS / "patch_upstream.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (CONTRACTS / "upstream" / "openapi.patched.json").read_text(encoding="utf-8")
    assert module.render() == committed, "run: uv run python contracts/patch_upstream.py"


def test_raw_documents_are_the_seed_bytes() -> None:
    """The raw files are the two JSON blocks of the upstream reference, unchanged."""
    seed = Path(__file__).parents[3] / "shared" / "seeds" / "000_fb77d23f52263421.txt"
    if not seed.exists():
        pytest.skip(f"the seed document is not beside the project ({seed})")
    text = seed.read_text(encoding="utf-8")
    for name in sorted(RAW):
        assert (CONTRACTS / "upstream" / name).read_text(encoding="utf-8") in text
