"""The one module that words refusals: what was given is shown short, what was expected is read
from the type, and msgspec's messages come out in the product's words."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest

from gateway.domain import wording
from gateway.domain.generation import GatewayFields
from gateway.domain.wording import NOTHING, Wrong


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abc", '"abc"'),
        (5, "5"),
        (2.5, "2.5"),
        (True, "true"),
        (None, "null"),
        ([], "an empty array"),
        ([1, 2, 3], "an array of 3 items"),
        ({"a": 1}, "an object of 1 field"),
        (NOTHING, "nothing"),
        ("x" * 41, '"' + "x" * 40 + '…" (41 characters)'),
    ],
)
def test_what_was_given_is_shown_short(value: Any, shown: str) -> None:
    """Scalars as written, collections by their size, long strings cut (a base64 image sent
    as a prompt is never echoed whole)."""
    assert shown == wording.given(value)


def _explained(target: Any, data: Any) -> Wrong:
    try:
        msgspec.convert(data, target, strict=False)
    except msgspec.ValidationError as exc:
        return wording.explain(exc, target, data)
    raise AssertionError("expected a validation error")


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=3)]


class Thing(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    size: Annotated[int, msgspec.Meta(ge=1, le=9)] = 1
    tags: Annotated[list[Name], msgspec.Meta(max_length=2)] = []
    labels: dict[Name, Name] = {}


@pytest.mark.parametrize(
    ("data", "wrong"),
    [
        ({"name": 5}, Wrong("name", "must be a string of 1 to 3 characters, got 5")),
        ({"name": "abcd"}, Wrong("name", "must be at most 3 characters, got 4 characters")),
        ({"name": "a", "size": 10}, Wrong("size", "must be an integer from 1 to 9, got 10")),
        ({"name": "a", "size": "x"}, Wrong("size", 'must be an integer from 1 to 9, got "x"')),
        ({}, Wrong("name", "is required")),
        (
            {"name": "a", "colour": "red"},
            Wrong("colour", "is not a field here (the fields are labels, name, size, tags)"),
        ),
        (
            {"name": "a", "tags": ["x", "y", "z"]},
            Wrong("tags", "must hold at most 2 items, got 3"),
        ),
        (
            {"name": "a", "tags": ["x", ""]},
            Wrong("tags[1]", "must be at least 1 character, got an empty string"),
        ),
        (
            {"name": "a", "labels": {"k": "long"}},
            Wrong("labels.k", "must be at most 3 characters, got 4 characters"),
        ),
        (
            {"name": "a", "labels": {"long": "v"}},
            Wrong("labels", 'keys must be a string of 1 to 3 characters, got "long"'),
        ),
    ],
)
def test_msgspec_errors_in_our_words(data: dict[str, Any], wrong: Wrong) -> None:
    """Type, length, range, missing, unknown, items, dict values and keys: the field as a
    path, the expectation from the type, the value from the data."""
    assert wrong == _explained(Thing, data)


def test_without_the_data_the_kind_given_is_read_from_the_message() -> None:
    """Where only msgspec's message is at hand, the kind it names is said in our words."""
    assert Wrong("name", "must be a string of 1 to 3 characters, got an integer") == (
        wording.explain("Expected `str`, got `int` - at `$.name`", Thing)
    )


def test_an_enum_lists_what_it_takes() -> None:
    assert Wrong(
        "events[0]",
        'must be one of "completed", "failed", "generating", "queued", got "done"',
    ) == _explained(GatewayFields, {"events": ["done"]})


def test_a_type_may_word_its_own_expectation() -> None:
    """A pattern says nothing to a caller: ``Meta(extra={"expected": …})`` words it."""
    Code = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", extra={"expected": "three capitals"})]
    assert Wrong("", 'must be three capitals, got "abc"') == _explained(Code, "abc")


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b'{"a": ', "The body is not valid JSON (it ends too early)"),
        (b'{"a" 1}', "The body is not valid JSON (at byte 5)"),
    ],
)
def test_a_body_that_is_not_json(raw: bytes, said: str) -> None:
    with pytest.raises(msgspec.DecodeError) as raised:
        msgspec.json.decode(raw)
    assert said == wording.not_json(str(raised.value))
