"""Job requests arrive as JSON or as forms (Zapier), with strings for numbers and blanks."""

from typing import Any

import pytest

from gateway.catalogue import load_catalogue
from gateway.domain.generation import CheckedJob, check_job
from gateway.domain.model_rules import Rulebook
from gateway.errors import InvalidRequest, UnsupportedMediaType
from gateway.http.parsing import parse_job_request as parse_fields

RULES = Rulebook(load_catalogue())


class _Parsed:
    """The parsed body after the model's rules, read like the old typed request."""

    def __init__(self, job: CheckedJob) -> None:
        self.job = job

    def __getattr__(self, name: str) -> Any:
        if hasattr(self.job.gateway, name):
            return getattr(self.job.gateway, name)
        return self.job.body.get(name)


def parse_job_request(content_type: str, body: bytes) -> _Parsed:
    """Parse, then check by the model's rules (as intake does), raising like intake."""
    result = check_job(RULES, parse_fields(content_type, body, RULES), metadata_max_bytes=2048)
    if not isinstance(result, CheckedJob):
        raise InvalidRequest(
            "invalid", details=[{"field": b.field, "message": b.message} for b in result]
        )
    return _Parsed(result)


def test_json_with_string_numbers_and_blanks() -> None:
    """Zapier-style flat JSON: numbers as strings, unmapped fields as empty strings."""
    request = parse_job_request(
        "application/json; charset=utf-8",
        b'{"prompt": "p", "duration": "7", "seed": "", "image_url": "",'
        b' "events": "completed,queued"}',
    )
    assert (7, None, None, ["completed", "queued"]) == (
        request.duration,
        request.seed,
        request.image_url,
        request.events,
    )


def test_form_with_lists_and_metadata() -> None:
    """Forms: repeated keys make lists; ``metadata[key]`` and ``metadata.key`` make metadata."""
    body = (
        b"prompt=a+horse&duration=5&reference_image_urls=https%3A%2F%2Fa.test%2F1.png"
        b"&reference_image_urls%5B%5D=https%3A%2F%2Fa.test%2F2.png&metadata%5Border%5D=42"
        b"&metadata.user=bob&events=completed&events=failed&watermark=false&seed="
    )
    request = parse_job_request("application/x-www-form-urlencoded", body)
    assert (
        "a horse",
        5,
        ["https://a.test/1.png", "https://a.test/2.png"],
        {"order": "42", "user": "bob"},
        ["completed", "failed"],
        False,
        None,
    ) == (
        request.prompt,
        request.duration,
        request.reference_image_urls,
        request.metadata,
        request.events,
        request.watermark,
        request.seed,
    )


def test_metadata_numbers_become_strings() -> None:
    """Metadata is echoed back as strings, whatever JSON type was sent."""
    request = parse_job_request("application/json", b'{"prompt": "p", "metadata": {"n": 42}}')
    assert {"n": "42"} == request.metadata


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"prompt": "p", "duration": "seven"}', "duration"),
        (b'{"prompt": "p", "duration": 99}', "duration"),
        (b'{"duration": 5}', "prompt"),
        (b'{"prompt": "p", "colour": "red"}', "colour"),
    ],
)
def test_invalid_fields_are_named(body: bytes, field: str) -> None:
    """A broken field is a 400 naming it (a missing or unknown one too)."""
    with pytest.raises(InvalidRequest) as caught:
        parse_job_request("application/json", body)
    assert 400 == caught.value.status_code
    assert field == caught.value.details[0]["field"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_bodies_that_are_not_objects(body: bytes) -> None:
    """Invalid JSON and non-object JSON are 400s, not 500s."""
    with pytest.raises(InvalidRequest):
        parse_job_request("application/json", body)


def test_other_media_types_are_415() -> None:
    """XML and friends get a 415 that says what is accepted."""
    with pytest.raises(UnsupportedMediaType) as caught:
        parse_job_request("application/xml", b"<job/>")
    assert 415 == caught.value.status_code


@pytest.mark.parametrize(
    "body",
    [
        b'{"prompt": "a horse \xff"}',
        b'{"prompt": "a horse", "metadata": {"order": "\xc3\x28"}}',
        b'{"prompt": "a horse", "metadata": {"\xed\xa0\x80": "1"}}',
    ],
)
def test_invalid_utf8_in_json_is_a_400(body: bytes) -> None:
    """Bytes that are not UTF-8, in a value or a metadata key or value: a clear 400."""
    with pytest.raises(InvalidRequest) as refused:
        parse_job_request("application/json", body)
    assert (400, "The body is not valid UTF-8") == (
        refused.value.status_code,
        refused.value.message,
    )


@pytest.mark.parametrize(
    ("media", "body"),
    [
        ("application/json", b'{"prompt": "a horse", "colour": "red"}'),
        ("application/x-www-form-urlencoded", b"prompt=a+horse&colour=red"),
    ],
)
def test_an_unknown_field_is_named(media: str, body: bytes) -> None:
    """JSON or form, the error's details name the unknown field."""
    with pytest.raises(InvalidRequest) as refused:
        parse_job_request(media, body)
    assert ["colour"] == [d["field"] for d in refused.value.details]
