"""HTTP ``Range`` requests (RFC 9110, section 14) for serving a kept video, and the
validators around them (``ETag``, ``If-None-Match``, ``If-Range``).

Pure. One range is served (a ``206`` with ``Content-Range``); a request for several ranges, a
unit other than ``bytes`` or a header that does not parse is answered with the whole video
(``200``), which the RFC allows a server to do; a range that starts past the end (``bytes=-0``
included) is ``416`` with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import msgspec


class WholeBody(msgspec.Struct, frozen=True):
    """Serve everything (``200``): no Range, one we ignore, or an ``If-Range`` that failed."""


class ByteRange(msgspec.Struct, frozen=True):
    """Serve bytes ``start`` to ``end`` inclusive (``206``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(msgspec.Struct, frozen=True):
    """``416``: the range starts past the end of the representation."""

    def content_range(self, size: int) -> str:
        return f"bytes */{size}"


RangeAnswer = WholeBody | ByteRange | Unsatisfiable
_WHOLE = WholeBody()


def _number(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


def parse_range(header: str | None, size: int) -> RangeAnswer:
    """What to serve of a representation of ``size`` bytes for a ``Range`` header."""
    if header is None:
        return _WHOLE
    unit, sep, spec = header.strip(" \t").partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return _WHOLE
    parts = [part for part in spec.split(",") if part.strip(" \t")]
    if len(parts) != 1:
        return _WHOLE  # none, or several: the whole body is a valid answer
    first_text, dash, last_text = parts[0].partition("-")
    if not dash:
        return _WHOLE
    if not first_text.strip(" \t"):  # suffix: the last N bytes
        suffix = _number(last_text)
        if suffix is None:
            return _WHOLE
        if suffix == 0 or size == 0:
            return Unsatisfiable()
        return ByteRange(max(0, size - suffix), size - 1)
    first = _number(first_text)
    last = _number(last_text) if last_text.strip(" \t") else None
    if first is None or (last_text.strip(" \t") and last is None):
        return _WHOLE
    if last is not None and last < first:
        return _WHOLE  # invalid: ignored
    if first >= size:
        return Unsatisfiable()
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end)


def strong_etag(sha256_hex: str) -> str:
    """The ``ETag`` of a kept video: its SHA-256, quoted (a strong validator)."""
    return f'"{sha256_hex}"'


def _tags(header: str) -> list[str]:
    return [tag.strip(" \t") for tag in header.split(",") if tag.strip(" \t")]


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` names this ``etag`` (weak comparison) or is ``*``: answer ``304``."""
    if if_none_match is None:
        return False
    bare = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == bare for tag in _tags(if_none_match))


def range_applies(if_range: str | None, etag: str) -> bool:
    """``If-Range``: honour the Range only when it names this ``etag`` exactly (strong
    comparison; a date or a weak tag never matches, so the whole body is sent)."""
    if if_range is None:
        return True
    tag = if_range.strip(" \t")
    return not tag.startswith("W/") and tag == etag
