"""Range requests for kept videos (RFC 9110 §14): one range served, the edge cases answered
the way the RFC allows, and the validators (ETag, If-None-Match, If-Range)."""

from __future__ import annotations

import pytest

from gateway.domain.byte_ranges import (
    ByteRange,
    RangeAnswer,
    Unsatisfiable,
    WholeBody,
    not_modified,
    parse_range,
    range_applies,
    strong_etag,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, WholeBody()),
        ("bytes=0-499", ByteRange(0, 499)),
        ("bytes=500-", ByteRange(500, 999)),
        ("bytes=-200", ByteRange(800, 999)),
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file: all of it
        ("bytes=900-5000", ByteRange(900, 999)),  # the end clamped
        ("bytes=999-999", ByteRange(999, 999)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("Bytes = 10-19", ByteRange(10, 19)),  # unit case and spaces tolerated
        ("bytes=10-19,", ByteRange(10, 19)),  # an empty list element is ignored
        ("bytes=1000-", Unsatisfiable()),  # starts at the end
        ("bytes=5000-6000", Unsatisfiable()),
        ("bytes=-0", Unsatisfiable()),
        ("bytes=0-1,5-9", WholeBody()),  # several ranges: the whole body is a valid answer
        ("bytes=9-5", WholeBody()),  # last before first: invalid, ignored
        ("items=0-5", WholeBody()),  # another unit
        ("bytes=abc", WholeBody()),
        ("bytes=a-b", WholeBody()),
        ("bytes=-", WholeBody()),
        ("bytes=", WholeBody()),
        ("bytes=+1-5", WholeBody()),
        ("bytes=0x10-20", WholeBody()),
        ("bytes=１-5", WholeBody()),  # a non-ASCII digit
        ("bytes=0-99999999999999999999999", WholeBody()),  # absurdly long numbers
        ("0-5", WholeBody()),
    ],
)
def test_parse_range(header: str | None, expected: RangeAnswer) -> None:
    assert expected == parse_range(header, SIZE)


def test_an_empty_file_satisfies_no_range() -> None:
    assert (Unsatisfiable(), Unsatisfiable(), WholeBody()) == (
        parse_range("bytes=0-", 0),
        parse_range("bytes=-10", 0),
        parse_range(None, 0),
    )


def test_content_range_headers() -> None:
    assert ("bytes 10-19/1000", 10, "bytes */1000") == (
        ByteRange(10, 19).content_range(SIZE),
        ByteRange(10, 19).length,
        Unsatisfiable().content_range(SIZE),
    )


def test_validators() -> None:
    etag = strong_etag("ab" * 32)
    assert etag == '"' + "ab" * 32 + '"'
    assert [True, True, True, False, False] == [
        not_modified(etag, etag),
        not_modified(f'"other", W/{etag}', etag),  # weak comparison for If-None-Match
        not_modified("*", etag),
        not_modified('"other"', etag),
        not_modified(None, etag),
    ]
    assert [True, True, False, False, False] == [
        range_applies(None, etag),
        range_applies(etag, etag),
        range_applies(f"W/{etag}", etag),  # strong comparison for If-Range
        range_applies('"other"', etag),
        range_applies("Wed, 21 Oct 2015 07:28:00 GMT", etag),
    ]
