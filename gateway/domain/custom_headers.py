"""A subscription's custom headers: checked once when set, sent with every delivery, never shown.

At most ``MAX_HEADERS`` headers and ``MAX_BYTES`` of names and values together. Names are HTTP
tokens; values visible ASCII (space and tab allowed inside), so no CR or LF can split a header.
Refused names: the Standard Webhooks headers (``webhook-*``: the signature must be the
gateway's), the ones that frame the body or the connection (``content-type``,
``content-length``, ``transfer-encoding``, ``connection``, ``host``) and ``traceparent`` (the
attempt's own). Values are write-only: every view shows ``MASK`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_HEADERS = 20
MAX_BYTES = 8 * 1024
MASK = "********"
FORBIDDEN = frozenset(
    {"content-type", "content-length", "transfer-encoding", "connection", "host", "traceparent"}
)
FORBIDDEN_PREFIX = "webhook-"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?")


class InvalidHeader(ValueError):
    """A custom header the gateway will not send; ``field`` names it (``headers.<name>``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _shown(name: str) -> str:
    """A name as it may appear in a message: printable and short."""
    return "".join(c if c.isprintable() else "?" for c in name)[:60]


def check_headers(raw: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The headers to store (None for none), or ``InvalidHeader`` naming the one at fault."""
    if not raw:
        return None
    if len(raw) > MAX_HEADERS:
        raise InvalidHeader("headers", f"at most {MAX_HEADERS} headers, got {len(raw)}")
    seen: set[str] = set()
    size = 0
    for name, value in raw.items():
        field = f"headers.{_shown(name)}"
        if not _TOKEN.fullmatch(name):
            raise InvalidHeader(field, "a header name must be an HTTP token (no spaces, CR or LF)")
        lower = name.lower()
        if lower in FORBIDDEN or lower.startswith(FORBIDDEN_PREFIX):
            raise InvalidHeader(field, f"{lower} is set by the gateway and cannot be replaced")
        if lower in seen:
            raise InvalidHeader(field, "given twice (names are case-insensitive)")
        seen.add(lower)
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise InvalidHeader(
                field, "a header value must be visible ASCII text (no CR, LF or control bytes)"
            )
        size += len(name) + len(value)
    if size > MAX_BYTES:
        raise InvalidHeader("headers", f"at most {MAX_BYTES} bytes of names and values")
    return dict(raw)


def masked(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers as every view shows them: names, and a mask for each value."""
    return dict.fromkeys(headers or {}, MASK)


def masked_repr(struct: Any) -> str:
    """A struct's repr with its ``headers`` values masked (they may be receivers' tokens)."""
    fields = ", ".join(
        f"{name}={masked(value) if name == 'headers' and value else value!r}"
        for name, value in ((name, getattr(struct, name)) for name in struct.__struct_fields__)
    )
    return f"{type(struct).__name__}({fields})"
