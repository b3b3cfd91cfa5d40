"""The POST body rules of every catalogue model, applied with a general JSON Schema validator.

The catalogue (``contracts/video-models.json``) holds each model's fields in the OpenAPI 3.0
dialect of the upstream's documents; this module turns each model into a JSON Schema (draft
2020-12: ``nullable`` becomes a ``null`` type, objects refuse fields they do not declare) and
validates with the ``jsonschema`` package — an implementation independent of the gateway's own
compiled rules, so that tests compare two readings of the same documents.

``violations(body)`` lists every deviation as ``{path, message}``, ``path`` naming the field
(``duration``, ``keyframes.frame0.url``, ``image_urls[2]``): the lenient mock records them in its
journal (the real API evidently accepts ``"duration": "7"``); the strict mock refuses them with
the upstream's 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

CATALOGUE = Path(__file__).resolve().parent.parent / "contracts" / "video-models.json"
DEFAULT_MODEL = "alibaba/happyhorse-1-0"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")  # format: uri (a data: URI is one too)
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")

_FORMATS = FormatChecker(formats=())
_FORMATS.checks("uri")(lambda value: not isinstance(value, str) or bool(_URI.match(value)))
_FORMATS.checks("uuid")(lambda value: not isinstance(value, str) or bool(_UUID.match(value)))


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema node as JSON Schema 2020-12."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif not ({"anyOf", "oneOf", "enum"} & set(out)):
            out["type"] = "null"  # a bare {"nullable": true}: null
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


def model_schema(model: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = json_schema(
        {
            "type": "object",
            "properties": model["properties"],
            "required": model["required"],
        }
    )
    return schema


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _named(error: ValidationError) -> list[dict[str, str]]:
    """The fields an error is about (a missing or undeclared field is named itself)."""
    base = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in error.validator_value if n not in error.instance]
        return [{"path": _path([*base, n]), "message": "is required"} for n in missing[:1]]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        declared = set(error.schema.get("properties", {}))
        return [
            {"path": _path([*base, n]), "message": "is not a field of this model"}
            for n in sorted(set(error.instance) - declared)
        ]
    return [{"path": _path(base) or "$", "message": error.message}]


@dataclass
class Contract:
    """Every model's validator, built once."""

    models: dict[str, dict[str, Any]]
    validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model_id, model in self.models.items():
            self.validators[model_id] = Draft202012Validator(
                model_schema(model), format_checker=_FORMATS
            )

    @classmethod
    def load(cls, path: Path = CATALOGUE) -> Contract:
        catalogue = json.loads(path.read_text(encoding="utf-8"))
        return cls({model["id"]: model for model in catalogue["models"]})

    def vendor(self, model_id: object) -> str | None:
        model = self.models.get(model_id) if isinstance(model_id, str) else None
        return None if model is None else str(model["vendor"])

    def violations(self, body: Any) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"path": "$", "message": "the body must be a JSON object"}]
        model = body.get("model")
        if model is None:
            return [{"path": "model", "message": "is required"}]
        validator = self.validators.get(model) if isinstance(model, str) else None
        if validator is None:
            return [{"path": "model", "message": f"unknown model {model!r}"}]
        found: list[dict[str, str]] = []
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            for named in _named(error):
                if named not in found:
                    found.append(named)
        return found
