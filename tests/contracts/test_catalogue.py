"""The committed model catalogue is what the build script makes of the reference extraction."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
CONTRACTS = ROOT / "contracts"
REFERENCE = ROOT.parent / "shared" / "reference" / "aimlapi-video-models.json"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_catalogue", CONTRACTS / "build_catalogue.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalogue_agrees_with_the_reference() -> None:
    """A hand edit, or a refreshed reference without a rebuilt catalogue, fails here."""
    if not REFERENCE.exists():
        pytest.skip(f"the reference extraction is not beside the project ({REFERENCE})")
    committed = (CONTRACTS / "video-models.json").read_text(encoding="utf-8")
    assert _builder().render(REFERENCE) == committed, (
        "run: uv run python contracts/build_catalogue.py"
    )


def test_the_catalogue_mends_string_defaults_and_names_vendors_by_folder() -> None:
    """Numeric defaults given as strings become numbers; the vendor comes from the folder."""
    module = _builder()
    reference = {
        "upstream_post_path": "/v2/video/generations",
        "poll": {},
        "models": {
            "x/one": {
                "source": "Kling-AI/one.json",
                "required": ["model"],
                "properties": {
                    "duration": {"type": "integer", "enum": [5, 10], "default": "5"},
                    "label": {"type": "string", "default": "5"},
                    "multi": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"d": {"type": "number", "default": "2.5"}},
                        },
                    },
                },
            }
        },
    }
    [model] = module.build(reference)["models"]
    assert ("Kling AI", 5, "5", 2.5) == (
        model["vendor"],
        model["properties"]["duration"]["default"],
        model["properties"]["label"]["default"],
        model["properties"]["multi"]["items"]["properties"]["d"]["default"],
    )


def test_the_catalogue_holds_every_model_once_sorted() -> None:
    """141 models when it was made; ids unique and sorted (the output is deterministic)."""
    catalogue = json.loads((CONTRACTS / "video-models.json").read_text(encoding="utf-8"))
    ids = [model["id"] for model in catalogue["models"]]
    assert len(ids) >= 141
    assert sorted(set(ids)) == ids
