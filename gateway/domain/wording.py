"""What a refused request is told: every validation message, in the product's words.

One place words them all, so the API, the drop-in ``/v2`` and the console say the same thing:
the field, what was expected, what was given — ``duration`` ``must be an integer from 3 to 15,
got "abc"`` — never the library's words (``Expected `int`, got `str```, ``Invalid enum value``).

- The model rules (:mod:`gateway.domain.model_rules`) build their messages with :func:`must_be`,
  :func:`too_short`, … and :func:`given`.
- A :class:`msgspec.ValidationError` met while converting a body (or part of one) to a type is
  reworded by :func:`explain`: the path and the kind of failure are read from msgspec's message
  (its only structured output); what was expected comes from the type itself
  (:func:`msgspec.inspect.type_info`), what was given from the data when the caller has it.
- A body that is not JSON at all: :func:`not_json`.

A type may word its own expectation where the type's constraints say too little (a pattern):
``Annotated[str, msgspec.Meta(pattern=…, extra={"expected": "a name without control
characters"})]``.

Pure: msgspec and the standard library, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Final

import msgspec
import msgspec.inspect as mi


class Wrong(msgspec.Struct, frozen=True):
    """One thing wrong with a request: the field (a path such as ``events[0]`` or
    ``metadata.order_id``; ``""`` for the body itself) and what is wrong, in our words."""

    field: str
    message: str


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final[Any] = _Nothing()  # "no value known" (distinct from null)

SHOWN_CHARACTERS = 40  # a longer string given is shown cut, with its length

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "string": "a string",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


# --- what was given ------------------------------------------------------------------------


class _Kind(msgspec.Struct, frozen=True):
    """What msgspec's message says was given (``a string``), when the data is not at hand."""

    words: str


def show(value: Any) -> str:
    """A JSON value as a caller would write it (strings quoted)."""
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, ValueError):  # not JSON at all (a datetime, say): its text
        return str(value)


def given(value: Any) -> str:
    """What was given, short enough for a message: a scalar as written (a long string cut),
    a collection by its size. Never a whole payload (a base64 image can be megabytes)."""
    if value is NOTHING:
        return "nothing"
    if isinstance(value, _Kind):
        return value.words
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARACTERS:
            return show(value)
        return f'{show(value[:SHOWN_CHARACTERS])[:-1]}…" ({len(value)} characters)'
    if isinstance(value, list | tuple):
        return "an empty array" if not value else f"an array of {_count(len(value), 'item')}"
    if isinstance(value, dict):
        return "an empty object" if not value else f"an object of {_count(len(value), 'field')}"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return show(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- what was expected, as the model rules say it -----------------------------------------


def type_words(kind: str) -> str:
    """A JSON Schema type in words: ``integer`` → ``an integer``."""
    return _TYPE_WORDS.get(kind, kind)


def one_of(allowed: Sequence[Any]) -> str:
    return "one of " + ", ".join(show(v) for v in allowed)


def must_be(expected: str, value: Any = NOTHING) -> str:
    """``must be {expected}, got {value}`` (without the ``got`` when nothing is known)."""
    return f"must be {expected}" + ("" if value is NOTHING else f", got {given(value)}")


def within(low: float | None, high: float | None, value: Any) -> str:
    """A number out of its range: ``must be from 5 to 30, got 2`` (or one bound)."""
    if low is not None and high is not None:
        return must_be(f"from {low:g} to {high:g}", value)
    if low is not None:
        return must_be(f"at least {low:g}", value)
    return must_be(f"at most {high:g}", value)


def too_short(low: int, value: str) -> str:
    return f"must be at least {_count(low, 'character')}, got {_length(value)}"


def too_long(high: int, value: str) -> str:
    return f"must be at most {_count(high, 'character')}, got {_length(value)}"


def _length(value: str) -> str:
    return "an empty string" if not value else _count(len(value), "character")


def too_few(low: int, items: Sequence[Any]) -> str:
    return f"must hold at least {_count(low, 'item')}, got {len(items)}"


def too_many(high: int, items: Sequence[Any]) -> str:
    return f"must hold at most {_count(high, 'item')}, got {len(items)}"


REQUIRED = "is required"


def not_a_field(
    known: Sequence[str] = (),
    *,
    where: str = "here",
    suggestion: str | None = None,
    hint: str | None = None,
) -> str:
    """An unknown field: the closest name when there is one, else where the fields are listed
    (``hint``), else the fields themselves."""
    said = f"is not a field {where}"
    if suggestion is not None:
        return f"{said}; did you mean {suggestion}?"
    if hint is not None:
        return f"{said} ({hint})"
    if known:
        return f"{said} (the fields are {', '.join(sorted(known))})"
    return said


def not_json(detail: str = "") -> str:
    """A body that is not JSON, with where msgspec stopped (``byte 4``, ``it ends early``)."""
    where = re.search(r"\(byte (\d+)\)", detail)
    if where is not None:
        return f"The body is not valid JSON (at byte {where.group(1)})"
    if "truncated" in detail:
        return "The body is not valid JSON (it ends too early)"
    return "The body is not valid JSON"


def summary(lead: str, wrongs: Sequence[Wrong]) -> str:
    """One line for the error's ``message``: ``{lead}: a must be …; b is required``."""
    return f"{lead}: " + "; ".join(
        f"{w.field} {w.message}" if w.field else w.message for w in wrongs
    )


# --- what a type expects ---------------------------------------------------------------------


def expected(info: mi.Type) -> str:
    """What a value of this type is, in words: ``an integer from 3 to 15``, ``a string of 1
    to 200 characters``, ``one of "completed", "failed"``."""
    if isinstance(info, mi.Metadata):
        words = (info.extra or {}).get("expected")
        return str(words) if words else expected(info.type)
    if isinstance(info, mi.UnionType):
        kinds = [expected(t) for t in info.types if not isinstance(t, mi.NoneType)]
        return " or ".join(kinds) if kinds else "null"
    if isinstance(info, mi.StrType):
        words = "a string" + _span(info.min_length, info.max_length, "character")
        return words + (f" matching {info.pattern}" if info.pattern else "")
    if isinstance(info, mi.IntType | mi.FloatType):
        return ("an integer" if isinstance(info, mi.IntType) else "a number") + _range(info)
    if isinstance(info, mi.BoolType):
        return type_words("boolean")
    if isinstance(info, mi.LiteralType):
        return one_of(list(info.values))
    if isinstance(info, mi.EnumType):
        return one_of([member.value for member in info.cls])
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return "an array" + _span(info.min_length, info.max_length, "item")
    if isinstance(info, mi.DictType):
        return "an object" + _span(info.min_length, info.max_length, "field")
    if isinstance(info, mi.StructType | mi.TypedDictType | mi.DataclassType):
        return type_words("object")
    if isinstance(info, mi.DateTimeType):
        return "a date and time with its time zone (RFC 3339, such as 2026-01-31T12:00:00Z)"
    if isinstance(info, mi.NoneType):
        return "null"
    return "a value of another kind"


def _span(low: int | None, high: int | None, noun: str) -> str:
    if low is not None and high is not None:
        return f" of {low} to {_count(high, noun)}" if low != high else f" of {_count(low, noun)}"
    if low is not None:
        return f" of at least {_count(low, noun)}"
    if high is not None:
        return f" of at most {_count(high, noun)}"
    return ""


def _range(info: mi.IntType | mi.FloatType) -> str:
    low, high = info.ge, info.le
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    parts = []
    if low is not None:
        parts.append(f"at least {low:g}")
    if info.gt is not None:
        parts.append(f"above {info.gt:g}")
    if high is not None:
        parts.append(f"at most {high:g}")
    if info.lt is not None:
        parts.append(f"below {info.lt:g}")
    return (" " + " and ".join(parts)) if parts else ""


# --- msgspec's validation errors, reworded ----------------------------------------------------

_AT = re.compile(r" - at `(?P<key>key)` in `\$(?P<keypath>[^`]*)`$| - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`")
_GOT_KIND = re.compile(r", got `(?P<kind>[^`]*)`")
_BAD_ENUM = re.compile(r"^Invalid enum value (?P<value>.+?)(?: - at `.*)?$")
_STEP = re.compile(r"\.(?P<name>[A-Za-z0-9_]+)|\[(?P<index>\d+)\]|\[\.\.\.\]")
_MSGSPEC_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
    "array": "an array",
    "object": "an object",
}


def explain(
    error: msgspec.ValidationError | str, target: Any, data: Any = NOTHING, *, root: str = ""
) -> Wrong:
    """``error`` (raised converting ``data`` to ``target``, a type or its
    :func:`msgspec.inspect.type_info`) in our words. ``root`` names where ``data`` sits in the
    request (a query parameter's name, say)."""
    text = str(error)
    located = _AT.search(text)
    head = text[: located.start()] if located else text
    raw_path = ""
    on_key = False
    if located is not None:
        on_key = located.group("key") is not None
        raw_path = located.group("keypath") if on_key else located.group("path")
    info = target if isinstance(target, mi.Type) else mi.type_info(target)
    info, value, field = _walk(info, data, raw_path, root)

    missing = _MISSING.match(head)
    if missing is not None:
        return Wrong(_join(field, missing.group("name")), REQUIRED)
    unknown = _UNKNOWN.match(head)
    if unknown is not None:
        name = unknown.group("name")
        return Wrong(_join(field, name), not_a_field(_field_names(info)))
    if on_key:
        mapping = _dict_of(info)
        key_info = mapping.key_type if mapping is not None else mi.AnyType()
        return Wrong(field, "keys " + must_be(expected(key_info), _first_bad_key(value, key_info)))
    if value is NOTHING:
        value = _given_in(head)
    return Wrong(field, _expected_message(info, value))


def _expected_message(info: mi.Type, value: Any) -> str:
    """``must be …, got …``, saying a length when the length is what broke."""
    bare = _bare(info)
    if isinstance(bare, mi.StrType) and isinstance(value, str):
        if bare.min_length is not None and len(value) < bare.min_length:
            return too_short(bare.min_length, value)
        if bare.max_length is not None and len(value) > bare.max_length:
            return too_long(bare.max_length, value)
    if isinstance(bare, mi.ListType | mi.DictType) and isinstance(value, list | dict):
        noun = "item" if isinstance(value, list) else "field"
        if bare.min_length is not None and len(value) < bare.min_length:
            return f"must hold at least {_count(bare.min_length, noun)}, got {len(value)}"
        if bare.max_length is not None and len(value) > bare.max_length:
            return f"must hold at most {_count(bare.max_length, noun)}, got {len(value)}"
    return must_be(expected(info), value)


def _bare(info: mi.Type) -> mi.Type:
    """The type without its wording and without ``| None``."""
    while True:
        if isinstance(info, mi.Metadata):
            info = info.type
        elif isinstance(info, mi.UnionType):
            others = [t for t in info.types if not isinstance(t, mi.NoneType)]
            if len(others) != 1:
                return info
            info = others[0]
        else:
            return info


def _dict_of(info: mi.Type) -> mi.DictType | None:
    bare = _bare(info)
    return bare if isinstance(bare, mi.DictType) else None


def _field_names(info: mi.Type) -> list[str]:
    bare = _bare(info)
    if isinstance(bare, mi.StructType | mi.TypedDictType | mi.DataclassType):
        return [f.encode_name if isinstance(f, mi.Field) else f.name for f in bare.fields]
    return []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(info: mi.Type, data: Any, raw_path: str, root: str) -> tuple[mi.Type, Any, str]:
    """Follow msgspec's path (``.events[0]``, ``.metadata[...]``) through the type and the data
    alike: the type and the value found there, and the path as we name fields."""
    value, field = data, root
    for step in _STEP.finditer(raw_path):
        bare = _bare(info)
        name, index = step.group("name"), step.group("index")
        if name is not None:
            info = member(bare, name)
            value = value.get(name, NOTHING) if isinstance(value, dict) else NOTHING
            field = _join(field, name)
        elif index is not None:
            info = _item(bare)
            i = int(index)
            value = value[i] if isinstance(value, list) and i < len(value) else NOTHING
            field = f"{field}[{i}]"
        else:  # ``[...]``: some value of a dict; find the one that breaks the rule
            info = bare.value_type if isinstance(bare, mi.DictType) else mi.AnyType()
            key, value = _first_bad_value(value, info)
            field = _join(field, key) if key is not None else field
    return info, value, field


def member(info: mi.Type, name: str) -> mi.Type:
    """The type of a struct's field (``AnyType`` when there is no such field)."""
    info = _bare(info)
    if isinstance(info, mi.StructType | mi.TypedDictType | mi.DataclassType):
        for f in info.fields:
            if (f.encode_name if isinstance(f, mi.Field) else f.name) == name:
                return f.type
    return mi.AnyType()


def _item(info: mi.Type) -> mi.Type:
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return info.item_type
    return mi.AnyType()


def _breaks(value: Any, info: mi.Type) -> bool:
    try:
        msgspec.convert(value, _python_type(info), strict=False)
    except msgspec.ValidationError:
        return True
    return False


def _python_type(info: mi.Type) -> Any:
    """Enough of ``info`` back as a type to check one dict key or value against it (the
    gateway's dict keys and values are constrained strings)."""
    bare = info.type if isinstance(info, mi.Metadata) else info
    if isinstance(bare, mi.StrType):
        meta = msgspec.Meta(
            min_length=bare.min_length, max_length=bare.max_length, pattern=bare.pattern
        )
        return Annotated[str, meta]
    return Any


def _first_bad_value(mapping: Any, info: mi.Type) -> tuple[str | None, Any]:
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            if _breaks(value, info):
                return str(key), value
    return None, NOTHING


def _first_bad_key(mapping: Any, info: mi.Type) -> Any:
    if isinstance(mapping, dict):
        for key in mapping:
            if _breaks(key, info):
                return key
    return NOTHING


def _given_in(head: str) -> Any:
    enum_value = _BAD_ENUM.match(head)
    if enum_value is not None:
        raw = enum_value.group("value").strip()
        if raw[:1] in "'\"" and raw[-1:] == raw[:1]:
            return raw[1:-1]
        try:
            return int(raw)
        except ValueError:
            return raw
    kind = _GOT_KIND.search(head)
    if kind is not None:
        return _Kind(_MSGSPEC_KINDS.get(kind.group("kind"), kind.group("kind")))
    return NOTHING


__all__ = [
    "NOTHING",
    "REQUIRED",
    "Wrong",
    "expected",
    "explain",
    "given",
    "member",
    "must_be",
    "not_a_field",
    "not_json",
    "one_of",
    "show",
    "summary",
    "too_few",
    "too_long",
    "too_many",
    "too_short",
    "type_words",
    "within",
]
