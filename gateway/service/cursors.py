"""One cursor format for every list that pages newest first (the API's and the console's).

A cursor names the last row of the page before: its creation time and id, as opaque
URL-safe base64. Callers only ever hand back what a page gave them; anything else is a 400.
"""

from __future__ import annotations

import base64
import binascii

from gateway.errors import InvalidRequest
from gateway.store.records import could_be_id

Cursor = tuple[float, str]  # (created_at, id) of the last row already shown


def encode_cursor(created_at: float, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(text: str, *, field: str = "cursor") -> Cursor:
    """The (created_at, id) a cursor stands for; a 400 naming ``field`` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        created_at, row_id = raw.split("|", 1)
        if not could_be_id(row_id):
            raise ValueError("not an id")
        return float(created_at), row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            f"{field} is not one this API returned",
            details=[{"field": field, "message": "not a valid cursor"}],
        ) from None
