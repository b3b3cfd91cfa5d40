"""What no-code tools (Zapier first) send, brought to the request's own shape.

One step between "the body as a dict" (JSON or a form) and the chosen model's checks
(``gateway.domain.generation.check_job``), driven by that model's declared field types in the
rulebook, so it composes with any model's fields:

- ``metadata__key=value`` (Zapier's unflatten style) is ``metadata[key]=value``;
- a boolean field given as ``yes``/``no``/``on``/``off`` (any case) is ``true``/``false``;
- a list-of-URLs field given once as comma-joined text (how Zapier joins line items) is split
  when every part is a well-formed http(s) URL; otherwise it is refused, naming the field,
  instead of going upstream as one broken URL (a paid call wasted). A single ``data:`` URI
  (whose base64 follows a comma) is left whole.

A model missing from the catalogue (allowed by ``GATEWAY_ALLOW_UNLISTED_MODELS``) declares no
types: its fields whose names end in ``_urls`` count as URL lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gateway.domain.catalogue import FieldSpec
from gateway.domain.generation import DEFAULT_MODEL
from gateway.domain.model_rules import Rulebook
from gateway.errors import InvalidRequest

METADATA_PREFIX = "metadata__"
_TRUE_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def is_url_list(name: str, spec: FieldSpec | None) -> bool:
    """A list of strings whose name says it holds URLs (``reference_image_urls``, …); with no
    declared type (an unlisted model), the name alone decides."""
    if spec is None:
        return name.endswith("_urls")
    return (
        spec.type == "array"
        and spec.items is not None
        and spec.items.type == "string"
        and name.endswith("urls")
    )


def well_formed_url(text: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _split_urls(name: str, value: Any) -> Any:
    single = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(single, str):
        return value
    if "," not in single or single[:5].lower() == "data:":
        return [single]  # one URL given as plain text (a JSON string) is a list of one
    parts = [part.strip() for part in single.split(",")]
    if all(well_formed_url(part) for part in parts):
        return parts
    message = (
        "was given once with commas, but not every comma-separated part is an http(s) URL; "
        "send one URL per field (repeat the field, or use a JSON list)"
    )
    raise InvalidRequest(f"{name} {message}", details=[{"field": name, "message": message}])


def apply_conveniences(data: dict[str, Any], rulebook: Rulebook) -> dict[str, Any]:
    """``data`` with the conventions above applied, by the chosen model's declared field types
    (a new dict; ``data`` is not changed)."""
    out: dict[str, Any] = {}
    folded: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith(METADATA_PREFIX) and len(key) > len(METADATA_PREFIX):
            if value not in ("", None):  # an unmapped Zapier field: "not given"
                folded[key[len(METADATA_PREFIX) :]] = value
        else:
            out[key] = value
    if folded:
        metadata = out.get("metadata")
        if metadata in (None, ""):
            out["metadata"] = folded
        elif isinstance(metadata, dict):
            out["metadata"] = {**metadata, **folded}
    model = out.get("model") or DEFAULT_MODEL
    rules = rulebook.for_model(model) if isinstance(model, str) else None
    declared: dict[str, FieldSpec | None] = (
        dict(rules.spec.properties) if rules is not None else dict.fromkeys(out)
    )
    for name, spec in declared.items():
        value = out.get(name)
        if value is None or value == "":
            continue
        if spec is not None and spec.type == "boolean" and isinstance(value, str):
            out[name] = _TRUE_WORDS.get(value.strip().lower(), value)
        elif is_url_list(name, spec):
            out[name] = _split_urls(name, value)
    return out
