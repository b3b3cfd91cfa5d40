"""The model catalogue as typed values: every upstream video model and the fields it takes.

The catalogue is data (``contracts/video-models.json``, built from the upstream's published
documents); this module only gives it a shape. Reading the file is I/O and happens outside the
domain (``gateway.catalogue``); :func:`decode_catalogue` takes its bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec


class FieldSpec(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One field's rules, in the JSON Schema keywords of the upstream's OpenAPI 3.0 documents."""

    type: str | None = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    format: str | None = None
    nullable: bool = False
    default: Any | msgspec.UnsetType = msgspec.UNSET
    items: FieldSpec | None = None
    properties: dict[str, FieldSpec] | None = None
    required: list[str] | None = None
    any_of: list[FieldSpec] | None = None
    one_of: list[FieldSpec] | None = None


class ModelSpec(msgspec.Struct, frozen=True):
    id: str
    vendor: str
    source: str
    required: list[str]
    properties: dict[str, FieldSpec]
    also_in: list[str] = []

    def default_of(self, name: str) -> Any:
        spec = self.properties.get(name)
        return None if spec is None or spec.default is msgspec.UNSET else spec.default


class Catalogue(msgspec.Struct, frozen=True):
    models: list[ModelSpec]
    upstream_post_path: str = "/v2/video/generations"

    def by_id(self) -> dict[str, ModelSpec]:
        return {model.id: model for model in self.models}


class CommonField(msgspec.Struct, frozen=True):
    """A field most models take, with the JSON type most of them agree on."""

    name: str
    type: str  # a JSON Schema type: "string", "integer", "number", "boolean", …
    models: int  # how many models take it
    of: int  # how many models there are


def _types(spec: FieldSpec) -> list[str]:
    if spec.type is not None:
        return [spec.type]
    return [t for sub in (spec.any_of or spec.one_of or []) for t in _types(sub)]


def common_fields(
    catalogue: Catalogue, *, share: float = 0.5, agreement: float = 0.9
) -> list[CommonField]:
    """The fields taken by at least ``share`` of the models whose type is the same in at least
    ``agreement`` of those (a model whose field takes that type among others, a string or an
    array, agrees), most common first. ``model`` itself is not among them."""
    taken: dict[str, list[list[str]]] = {}
    for model in catalogue.models:
        for name, spec in model.properties.items():
            taken.setdefault(name, []).append(_types(spec))
    total = len(catalogue.models)
    found = []
    for name, kinds in taken.items():
        if name == "model" or len(kinds) < share * total:
            continue
        counts: dict[str, int] = {}
        for kind in kinds:
            for one in set(kind):
                counts[one] = counts.get(one, 0) + 1
        if not counts:
            continue
        best = max(sorted(counts), key=lambda t: counts[t])
        if counts[best] >= agreement * len(kinds):
            found.append(CommonField(name=name, type=best, models=len(kinds), of=total))
    return sorted(found, key=lambda f: (-f.models, f.name))


def decode_catalogue(raw: bytes) -> Catalogue:
    """The catalogue from the bytes of ``video-models.json`` (unknown top-level keys ignored)."""
    return msgspec.json.decode(raw, type=Catalogue)
