"""Each model's request rules, compiled once at start-up into plain checks.

:class:`Rulebook` turns the catalogue into one compiled check per model (a dict lookup finds it,
so checking a body costs the same with one model or with hundreds). A check walks only the
fields the body holds plus the model's required ones; for each it applies the declared type
(numbers and booleans sent as strings are coerced to it: Zapier sends everything as strings),
enums, ranges, lengths, item limits and nested objects, and refuses fields the model does not
take, naming them. The checks common to every model (a prompt that is not blank and not too
long, URL forms, the size of media) apply to every body, listed model or not.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from typing import Any

from gateway.domain import wording
from gateway.domain.catalogue import Catalogue, FieldSpec, ModelSpec
from gateway.domain.wording import Wrong

# A rule a body breaks: the field and what is wrong, in the product's words (see wording).
RuleBroken = Wrong

Broken = list[RuleBroken]
# A compiled check: (value, path, broken) -> the value as it will be sent, or INVALID.
Check = Callable[[Any, str, Broken], Any]


class _Invalid:
    __slots__ = ()


INVALID: Any = _Invalid()

PROMPT_MAX = 5000  # when a model declares no maxLength of its own
MEDIA_MAX = 20_000_000  # characters of one URL or data URI (room for a base64 image)
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:(image|video|audio)/[a-z0-9.+-]+;base64,", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_INTEGER = re.compile(r"^\s*[+-]?\d+(\.0*)?\s*$")
_WORDS = re.compile(r"[/._-]+")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
# End frames are ``last_image_url`` in some models and ``tail_image_url`` in others.
_ALIASES = {"tail_image_url": "last_image_url", "last_image_url": "tail_image_url"}
# Rules the documents state in prose only.
_NEEDS: dict[str, dict[str, str]] = {"alibaba/happyhorse-1-0": {"audio_setting": "video_url"}}
# Names the upstream's own documentation sends, in its examples, for a field its schema names
# otherwise: taken for the schema's field (checked by its rules, reported under the name sent)
# and sent upstream under the schema's name, on every model that declares the schema's name and
# not this one. Happy Horse's video-to-video example #2 sends ``reference_image_url`` (an array)
# in JavaScript, ``reference_image_urls`` in Python; its schema, the catalogue and every other
# model taking references say ``reference_image_urls``. The real API evidently takes what its
# examples send (as ``"duration": "7"``), and so does the bundled mock, lenient by default
# (noting the deviation in its journal); the strict mock is the schema to the letter, and the
# gateway never sends it anything else. (``beeble/switchx-video-to-video`` declares a
# ``reference_image_url`` of its own, a single URL: untouched.)
_DOCUMENTED_AS = {"reference_image_url": "reference_image_urls"}


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _media_kind(path: str) -> str | None:
    name = path.rsplit(".", 1)[-1].lower()
    for kind in ("image", "video", "audio"):
        if kind in name:
            return kind
    return None


def check_media_url(value: str, path: str, broken: Broken) -> bool:
    """An http(s) URL, or a base64 data URI of the kind the field's name says (image_url …)."""
    kind = _media_kind(path)
    if len(value) > MEDIA_MAX:
        broken.append(RuleBroken(path, wording.too_long(MEDIA_MAX, value)))
        return False
    data_uri = _DATA_URI.match(value)
    if data_uri is not None:
        if kind is not None and data_uri.group(1).lower() != kind:
            given = f"data:{data_uri.group(1).lower()}/…"
            broken.append(RuleBroken(path, f"must be a data URI of {kind} data, got a {given} URI"))
            return False
        return True
    if not _HTTP_URL.match(value):
        what = f"data:{kind}/…" if kind else "data:…"
        broken.append(
            RuleBroken(path, wording.must_be(f"an http(s) URL or a base64 {what} URI", value))
        )
        return False
    return True


def _as_integer(value: Any) -> Any:
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        return int(float(value)) if "." in value else int(value)
    return INVALID


def _as_number(value: Any) -> Any:
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, int | float):
        return value if math.isfinite(value) else INVALID
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return INVALID
        if not math.isfinite(number):
            return INVALID
        return int(number) if number.is_integer() and _INTEGER.match(value) else number
    return INVALID


def _as_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return INVALID


def _as_string(value: Any) -> Any:
    return value if isinstance(value, str) else INVALID


_COERCE: dict[str, Callable[[Any], Any]] = {
    "integer": _as_integer,
    "number": _as_number,
    "boolean": _as_boolean,
    "string": _as_string,
}


def _in_enum(value: Any, allowed: list[Any]) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; ``5.0`` is ``5``)."""
    for candidate in allowed:
        if isinstance(candidate, bool) or isinstance(value, bool):
            if candidate is value:
                return True
        elif candidate == value and isinstance(candidate, str) == isinstance(value, str):
            return True
    return False


def compile_field(spec: FieldSpec) -> Check:
    """One field's check, built once."""
    alternatives = spec.any_of or spec.one_of
    if alternatives:
        return _compile_alternatives(spec, [compile_field(alt) for alt in alternatives])
    kind = spec.type
    if kind is None and spec.nullable and not spec.enum:
        return _null_only  # OpenAPI 3.0's bare ``{"nullable": true}``: read as "null"
    if kind == "array":
        inner = _compile_array(spec)
    elif kind == "object":
        inner = _compile_object(spec)
    else:
        inner = _compile_scalar(spec)
    if not spec.nullable:
        return inner

    def nullable(value: Any, path: str, broken: Broken) -> Any:
        return None if value is None else inner(value, path, broken)

    return nullable


def _null_only(value: Any, path: str, broken: Broken) -> Any:
    if value is not None:
        broken.append(RuleBroken(path, wording.must_be("null", value)))
        return INVALID
    return None


def _compile_scalar(spec: FieldSpec) -> Check:
    kind = spec.type
    coerce = _COERCE.get(kind) if kind is not None else None
    allowed = spec.enum
    low, high = spec.minimum, spec.maximum
    min_len, max_len = spec.min_length, spec.max_length
    is_uri, is_uuid = spec.format == "uri", spec.format == "uuid"
    type_words = wording.type_words(kind) if kind is not None else ""

    def check(value: Any, path: str, broken: Broken) -> Any:
        if coerce is not None:
            coerced = coerce(value)
            if coerced is INVALID:
                broken.append(RuleBroken(path, wording.must_be(type_words, value)))
                return INVALID
            value = coerced
        if allowed is not None and not _in_enum(value, allowed):
            broken.append(RuleBroken(path, wording.must_be(wording.one_of(allowed), value)))
            return INVALID
        if (low is not None and value < low) or (high is not None and value > high):
            broken.append(RuleBroken(path, wording.within(low, high, value)))
            return INVALID
        if isinstance(value, str):
            if min_len is not None and len(value) < min_len:
                broken.append(RuleBroken(path, wording.too_short(min_len, value)))
                return INVALID
            if max_len is not None and len(value) > max_len:
                broken.append(RuleBroken(path, wording.too_long(max_len, value)))
                return INVALID
            if is_uri and not check_media_url(value, path, broken):
                return INVALID
            if is_uuid and not _UUID.match(value):
                broken.append(RuleBroken(path, wording.must_be("a UUID", value)))
                return INVALID
        return value

    return check


def _compile_array(spec: FieldSpec) -> Check:
    item = compile_field(spec.items) if spec.items is not None else None
    min_items, max_items = spec.min_items, spec.max_items

    def check(value: Any, path: str, broken: Broken) -> Any:
        if isinstance(value, str | int | float):
            value = [value]  # a lone value (one form field) is a one-item list
        if not isinstance(value, list):
            broken.append(RuleBroken(path, wording.must_be("an array", value)))
            return INVALID
        if min_items is not None and len(value) < min_items:
            broken.append(RuleBroken(path, wording.too_few(min_items, value)))
            return INVALID
        if max_items is not None and len(value) > max_items:
            broken.append(RuleBroken(path, wording.too_many(max_items, value)))
            return INVALID
        if item is None:
            return value
        before = len(broken)
        out = [item(v, f"{path}[{i}]", broken) for i, v in enumerate(value)]
        return INVALID if len(broken) > before else out

    return check


def _compile_object(spec: FieldSpec) -> Check:
    fields = {name: compile_field(sub) for name, sub in (spec.properties or {}).items()}
    return _object_check(fields, tuple(spec.required or ()), open_=spec.properties is None)


def _object_check(fields: dict[str, Check], required: tuple[str, ...], *, open_: bool) -> Check:
    def check(value: Any, path: str, broken: Broken) -> Any:
        if not isinstance(value, dict):
            broken.append(RuleBroken(path, wording.must_be("an object", value)))
            return INVALID
        if open_:
            return value
        before = len(broken)
        out = _check_members(value, fields, required, path, broken)
        return INVALID if len(broken) > before else out

    return check


def _check_members(
    value: dict[str, Any],
    fields: dict[str, Check],
    required: tuple[str, ...],
    path: str,
    broken: Broken,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in value.items():
        check = fields.get(name)
        if check is None:
            broken.append(RuleBroken(_child(path, name), _not_taken(name, fields)))
            continue
        out[name] = check(member, _child(path, name), broken)
    for name in required:
        if name not in value:
            broken.append(RuleBroken(_child(path, name), wording.REQUIRED))
    return out


def _not_taken(name: str, fields: dict[str, Check]) -> str:
    alias = _ALIASES.get(name)
    close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.75)
    return wording.not_a_field(
        where="of this model",
        suggestion=alias if alias in fields else (close[0] if close else None),
        hint="GET /v1/models/{id} lists its fields",
    )


def _compile_alternatives(spec: FieldSpec, checks: list[Check]) -> Check:
    nullable = spec.nullable

    def check(value: Any, path: str, broken: Broken) -> Any:
        if value is None and nullable:
            return None
        best: Broken | None = None
        for alternative in checks:
            attempt: Broken = []
            out = alternative(value, path, attempt)
            if not attempt:
                return out
            if best is None or len(attempt) < len(best):
                best = attempt
        broken.extend(
            best or [RuleBroken(path, wording.must_be("one of the allowed forms", value))]
        )
        return INVALID

    return check


class ModelRules:
    """One model's compiled check of a whole upstream body."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._fields = {name: compile_field(sub) for name, sub in spec.properties.items()}
        self._required = tuple(name for name in spec.required if name != "model")
        prompt = spec.properties.get("prompt")
        self._prompt_max = (prompt.max_length if prompt else None) or PROMPT_MAX
        self._needs = _NEEDS.get(spec.id, {})
        self._documented_as = {
            sent: schema
            for sent, schema in _DOCUMENTED_AS.items()
            if schema in spec.properties and sent not in spec.properties
        }

    def check(self, body: dict[str, Any], broken: Broken) -> dict[str, Any]:
        fields = {k: v for k, v in body.items() if k != "model"}
        renamed: dict[str, Any] = {}
        for sent, schema in self._documented_as.items():
            if sent not in fields:
                continue
            value = fields.pop(sent)
            if schema in fields:
                broken.append(RuleBroken(sent, f"is another name for {schema}: send one of them"))
            else:  # checked by the schema's rule, reported under the name the caller sent
                renamed[schema] = self._fields[schema](value, sent, broken)
        required = tuple(name for name in self._required if name not in renamed)
        out = {
            "model": self.spec.id,
            **_check_members(fields, self._fields, required, "", broken),
            **renamed,
        }
        check_prompt(out.get("prompt"), broken, max_length=self._prompt_max)
        for name, needed in self._needs.items():
            if name in out and needed not in out:
                broken.append(RuleBroken(name, f"only applies when {needed} is given"))
        return out


def check_prompt(prompt: Any, broken: Broken, *, max_length: int = PROMPT_MAX) -> None:
    """Common to every model: a prompt, when given, is not blank and not too long."""
    if not isinstance(prompt, str):
        return
    if not prompt.strip() and not any(b.field == "prompt" for b in broken):
        broken.append(RuleBroken("prompt", wording.must_be("a text that is not blank", prompt)))
    elif len(prompt) > max_length and not any(b.field == "prompt" for b in broken):
        broken.append(RuleBroken("prompt", wording.too_long(max_length, prompt)))


def check_unlisted(body: dict[str, Any], broken: Broken) -> dict[str, Any]:
    """A model missing from the catalogue: only the checks common to all models."""
    prompt = body.get("prompt")
    if "prompt" in body and not isinstance(prompt, str):
        broken.append(RuleBroken("prompt", wording.must_be("a string", prompt)))
    check_prompt(prompt, broken)
    for name, value in body.items():
        if name.endswith("_url") and isinstance(value, str):
            check_media_url(value, name, broken)
        elif name.endswith("_urls") and isinstance(value, list):
            for i, url in enumerate(value):
                if isinstance(url, str):
                    check_media_url(url, f"{name}[{i}]", broken)
    return dict(body)


class Rulebook:
    """Every catalogue model's rules, compiled once; ``for_model`` is a dict lookup."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._models = {spec.id: ModelRules(spec) for spec in catalogue.models}
        self.ids = tuple(sorted(self._models))

    def __len__(self) -> int:
        return len(self._models)

    def for_model(self, model_id: str) -> ModelRules | None:
        return self._models.get(model_id)

    def closest(self, model_id: str, n: int = 3) -> list[str]:
        """Ids near an unknown one: by spelling, else by the most words in common."""
        lowered = model_id.lower()
        close = difflib.get_close_matches(lowered, self.ids, n=n, cutoff=0.5)
        if close:
            return close
        words = set(_WORDS.split(lowered)) - {""}
        scored = sorted(
            (-len(words & set(_WORDS.split(candidate))), candidate) for candidate in self.ids
        )
        return [candidate for score, candidate in scored[:n] if score < 0]
