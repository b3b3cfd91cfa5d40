"""Bodies made from the catalogue itself: the smallest valid one of a model, and ones that
break exactly one declared rule (shared by the gateway's and the mock's tests)."""

from __future__ import annotations

from typing import Any

from gateway.catalogue import load_catalogue
from gateway.domain.catalogue import FieldSpec, ModelSpec

UUID = "123e4567-e89b-12d3-a456-426614174000"


def models() -> list[ModelSpec]:
    return load_catalogue().models


def example(spec: FieldSpec, name: str) -> Any:
    """A valid value of a field (the first alternative, enum value, minimum, …)."""
    alternatives = spec.any_of or spec.one_of
    if alternatives:
        return example(alternatives[0], name)
    if spec.enum:
        return spec.enum[0]
    kind = spec.type
    if kind == "string":
        if spec.format == "uri":
            kind_word = "mp4" if "video" in name else "mp3" if "audio" in name else "png"
            return f"https://example.com/{name}.{kind_word}"
        if spec.format == "uuid":
            return UUID
        text = "a horse galloping on a beach"
        return text[: spec.max_length] if spec.max_length else text
    if kind in ("integer", "number"):
        return int(spec.minimum) if spec.minimum is not None else 1
    if kind == "boolean":
        return True
    if kind == "array":
        count = spec.min_items or 0
        item = spec.items or FieldSpec(type="string")
        return [example(item, name) for _ in range(count)]
    if kind == "object":
        props = spec.properties or {}
        return {key: example(props[key], key) for key in spec.required or []}
    return "x"


def smallest_body(model: ModelSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model.id}
    for name in model.required:
        if name != "model":
            body[name] = example(model.properties[name], name)
    return body


def broken_bodies(model: ModelSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """(rule, field, body) for one value outside an enum, one out of range, one missing field."""
    base = smallest_body(model)
    found: list[tuple[str, str, dict[str, Any]]] = []
    for name, spec in sorted(model.properties.items()):
        if name == "model":
            continue
        if spec.enum and not any(r == "enum" for r, _, _ in found):
            bad = "not-a-choice" if spec.type == "string" else 987_654
            found.append(("enum", name, {**base, name: bad}))
        if (
            spec.maximum is not None
            and not spec.enum
            and not any(r == "range" for r, _, _ in found)
        ):
            found.append(("range", name, {**base, name: spec.maximum + 1000}))
    for name in model.required:
        if name != "model":
            found.append(("required", name, {k: v for k, v in base.items() if k != name}))
            break
    return found
