"""What no-code tools (Zapier first) send, brought to the request's own shape.

One step between "the body as a dict" (JSON or a form) and the typed conversion, driven only by
the declared types of the request struct, so it composes with any model's fields:

- ``metadata__key=value`` (Zapier's unflatten style) is ``metadata[key]=value``;
- a boolean field given as ``yes``/``no``/``on``/``off`` (any case) is ``true``/``false``;
- a list-of-URLs field given once as comma-joined text (how Zapier joins line items) is split
  when every part is a well-formed http(s) URL; otherwise it is refused, naming the field,
  instead of going upstream as one broken URL (a paid call wasted). A single ``data:`` URI
  (whose base64 follows a comma) is left whole.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from gateway.errors import InvalidRequest

METADATA_PREFIX = "metadata__"
_TRUE_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def _field_types(request_type: type[Any]) -> dict[str, msgspec.inspect.Type]:
    info = msgspec.inspect.type_info(request_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: _without_none(f.type) for f in info.fields}


def _without_none(kind: msgspec.inspect.Type) -> msgspec.inspect.Type:
    if isinstance(kind, msgspec.inspect.UnionType):
        rest = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return kind


def is_url_list(name: str, kind: msgspec.inspect.Type) -> bool:
    """A list of strings whose name says it holds URLs (``reference_image_urls``, …)."""
    return (
        isinstance(kind, msgspec.inspect.ListType)
        and isinstance(kind.item_type, msgspec.inspect.StrType)
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


def apply_conveniences(data: dict[str, Any], request_type: type[Any]) -> dict[str, Any]:
    """``data`` with the conventions above applied (a new dict; ``data`` is not changed)."""
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
    for name, kind in _field_types(request_type).items():
        value = out.get(name)
        if value is None:
            continue
        if isinstance(kind, msgspec.inspect.BoolType) and isinstance(value, str):
            out[name] = _TRUE_WORDS.get(value.strip().lower(), value)
        elif is_url_list(name, kind):
            out[name] = _split_urls(name, value)
    return out
