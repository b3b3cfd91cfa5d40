"""Build ``video-models.json`` (the project's model catalogue) from the reference extraction.

The reference file (``../shared/reference/aimlapi-video-models.json`` beside the project, made
from the upstream's published OpenAPI documents) lists every model of
``POST /v2/video/generations``: its required fields and properties. This script turns it into
the catalogue the gateway and the mock read at run time:

- models as a list sorted by id, each with its ``vendor`` (a display name for the folder of the
  document it came from, never the id's prefix), the ``source`` document, ``required`` and
  ``properties`` (JSON Schema keywords, OpenAPI 3.0 style: ``nullable``, ``anyOf``, …);
- two quirks mended: an integer or number field whose default is a string (``"duration"``
  declares integers but defaults to ``"5"`` in most documents) gets the number as its default;
  a field marked ``"required": true`` in place (OpenAPI 2 style, one document) is moved to the
  model's ``required`` list;
- the shared poll response kept as it is.

Run ``uv run python contracts/build_catalogue.py [REFERENCE]`` to refresh it; the output is
deterministic, and a test fails while the committed file and the reference disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TARGET = HERE / "video-models.json"
REFERENCE = HERE.parent.parent / "shared" / "reference" / "aimlapi-video-models.json"
GATEWAY_FIELDS = frozenset({"callback_url", "metadata", "events"})

# Document folders (case-insensitive) → vendor names. An unknown folder is used as it is.
VENDORS = {
    "alibaba-cloud": "Alibaba Cloud",
    "beeble": "Beeble",
    "black-forest-labs": "Black Forest Labs",
    "bytedance": "ByteDance",
    "google": "Google",
    "kling-ai": "Kling AI",
    "krea": "Krea",
    "ltxv": "Lightricks (LTXV)",
    "luma-ai": "Luma AI",
    "magic": "Magic",
    "minimax": "MiniMax",
    "openai": "OpenAI",
    "pixverse": "PixVerse",
    "runway": "Runway",
    "sber-ai": "Sber AI",
    "tencent": "Tencent",
    "veed": "VEED",
    "xai": "xAI",
}


def vendor_of(source: str) -> str:
    folder = source.split("/", 1)[0]
    return VENDORS.get(folder.lower(), folder)


def _mend(node: Any) -> Any:
    """Numeric defaults given as strings become numbers; everything else is kept."""
    if isinstance(node, list):
        return [_mend(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _mend(value) for key, value in node.items()}
    default = out.get("default")
    if out.get("type") in ("integer", "number") and isinstance(default, str):
        try:
            number = float(default)
        except ValueError:
            return out
        out["default"] = int(number) if out["type"] == "integer" or number.is_integer() else number
    return out


def build(reference: dict[str, Any]) -> dict[str, Any]:
    models = []
    for model_id in sorted(reference["models"]):
        entry = reference["models"][model_id]
        clash = GATEWAY_FIELDS & set(entry["properties"])
        if clash:
            raise SystemExit(f"{model_id} takes {sorted(clash)}, which the gateway reserves")
        required = list(entry.get("required", []))
        properties = _mend(entry["properties"])
        for name, spec in properties.items():
            if spec.get("required") is True:
                del spec["required"]
                if name not in required:
                    required.append(name)
        model: dict[str, Any] = {
            "id": model_id,
            "vendor": vendor_of(entry["source"]),
            "source": entry["source"],
            "required": required,
            "properties": properties,
        }
        if entry.get("also_in"):
            model["also_in"] = list(entry["also_in"])
        models.append(model)
    return {
        "about": (
            "Every video model of POST /v2/video/generations, built by "
            "contracts/build_catalogue.py from the reference extraction of the upstream's "
            "published OpenAPI documents (aimlapi/api-docs, docs/api-references/video-models/)."
        ),
        "upstream_post_path": reference["upstream_post_path"],
        "models": models,
        "poll": reference["poll"],
    }


def render(reference_path: Path = REFERENCE) -> str:
    reference = json.loads(reference_path.read_text(encoding="utf-8"))
    return json.dumps(build(reference), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE
    TARGET.write_text(render(source), encoding="utf-8")
    print(f"wrote {TARGET}")
