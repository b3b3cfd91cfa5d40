"""One way in for every request body: JSON or a form, read alike by every endpoint.

Every handler that takes a body reads it here, never through Litestar's own parsing (a ``data``
parameter): ``tests/http/test_bodies.py`` holds that for every route, and sends each one bytes
that are not UTF-8, JSON that is not an object, forms and blanks. What this gives every body:

- JSON (``application/json``, ``…+json``, or no content type) or a form
  (``application/x-www-form-urlencoded``, what Zapier and other no-code tools send), decoded by
  :func:`gateway.http.parsing.read_fields`: bytes that are not UTF-8, JSON that is not an object,
  nesting too deep, another media type — each a 4xx in the one error shape, never a 500;
- a blank field (``""`` or ``null``, a form's ``events=``) means "not given";
- an array field given one string takes it as a comma-separated list (a form's lone value,
  ``models=google/veo3``);
- aliases (another tool's name for a field, Zapier's ``event`` for ``events``);
- the struct's own rules, refused in the product's words (:mod:`gateway.domain.wording`).

The job bodies (``/v1/jobs``, ``/v2``) take :func:`request_fields` and go on with the chosen
model's rules (``gateway.http.parsing``); the others are converted to their struct by
:func:`read_body`. Values are converted strictly (a form's values are text: these structs hold
strings, lists of strings and RFC 3339 times).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi
from litestar import Request

from gateway.domain import wording
from gateway.domain.model_rules import Rulebook
from gateway.errors import InvalidRequest
from gateway.http.parsing import parse_job_request, read_fields

S = TypeVar("S", bound=msgspec.Struct)


async def request_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body's fields as a plain dict, from JSON or a form (not yet cleaned or checked)."""
    return read_fields(request.headers.get("content-type", ""), await request.body())


async def read_job_request(request: Request[Any, Any, Any], rulebook: Rulebook) -> dict[str, Any]:
    """A ``/v1/jobs`` body: its fields, with the no-code conveniences for the chosen model,
    cleaned (the model's rules are applied by intake)."""
    content_type = request.headers.get("content-type", "")
    return parse_job_request(content_type, await request.body(), rulebook)


async def read_body(
    request: Request[Any, Any, Any],
    struct: type[S],
    *,
    lead: str,
    aliases: Mapping[str, str] | None = None,
) -> S:
    """The body as ``struct``; a refusal's message starts with ``lead`` (``The subscription is
    invalid``) and names the fields."""
    return convert_body(await request_fields(request), struct, lead=lead, aliases=aliases)


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _list_fields(struct: type[msgspec.Struct]) -> frozenset[str]:
    """The names of the struct's fields that hold arrays."""
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    names = set()
    for field in info.fields:
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        for kind in kinds:
            bare = kind.type if isinstance(kind, mi.Metadata) else kind
            if isinstance(bare, mi.ListType):
                names.add(field.encode_name)
    return frozenset(names)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def convert_body(
    fields: dict[str, Any],
    struct: type[S],
    *,
    lead: str,
    aliases: Mapping[str, str] | None = None,
) -> S:
    """``fields`` (JSON's or a form's) as ``struct``: blanks dropped, aliases renamed (both
    names given: their values together), a string for an array split at commas."""
    cleaned: dict[str, Any] = {}
    for raw_name, value in fields.items():
        if _blank(value):
            continue
        name = (aliases or {}).get(raw_name, raw_name)
        if name in cleaned:
            cleaned[name] = [*_as_list(cleaned[name]), *_as_list(value)]
        else:
            cleaned[name] = value
    for name in _list_fields(struct) & cleaned.keys():
        value = cleaned[name]
        if isinstance(value, str):
            cleaned[name] = [part.strip() for part in value.split(",") if part.strip()]
    try:
        return msgspec.convert(cleaned, struct, strict=True)
    except msgspec.ValidationError as exc:
        wrong = wording.explain(exc, struct, cleaned)
        raise InvalidRequest(
            wording.summary(lead, [wrong]),
            details=[{"field": wrong.field, "message": wrong.message}],
        ) from None


__all__ = ["convert_body", "read_body", "read_job_request", "request_fields"]
