"""A subscription's payload filter: which of its jobs' events it wants, by equality.

A filter is a JSON object whose keys are ``model``, ``status`` or ``metadata.<key>`` and whose
values are a string or a list of strings (any of them). An event passes when every key matches:
``{"model": ["kling/v2", "alibaba/happyhorse-1-0"], "metadata.env": "prod"}`` lets through the
events of jobs of either model whose metadata has ``env`` = ``prod``. ``status`` is the status
the event announces (``completed``, ``failed``, ``queued``, ``generating``). No operators, no
patterns: equality only, so a filter is cheap to check on every event and easy to read.
Operational events (``subscription.disabled``, ``delivery.exhausted``) are not filtered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_KEYS = 20
MAX_VALUES = 50  # per key
MAX_VALUE_LENGTH = 200
METADATA_PREFIX = "metadata."
STATUSES = ("queued", "generating", "completed", "failed")

PayloadFilter = dict[str, list[str]]


class InvalidFilter(ValueError):
    """A filter that is not ``{key: string or [strings]}`` with known keys; ``field`` names
    the part at fault (``filter.<key>``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalize_filter(raw: Mapping[str, Any] | None) -> PayloadFilter | None:
    """The filter with each value a sorted, de-duplicated list; None for no filter (None or
    ``{}``). Raises ``InvalidFilter`` naming the key at fault."""
    if not raw:
        return None
    if len(raw) > MAX_KEYS:
        raise InvalidFilter("filter", f"at most {MAX_KEYS} keys, got {len(raw)}")
    out: PayloadFilter = {}
    for key, value in raw.items():
        field = f"filter.{key}"
        known = key in ("model", "status") or (
            key.startswith(METADATA_PREFIX) and len(key) > len(METADATA_PREFIX)
        )
        if not known:
            raise InvalidFilter(
                field, "must be model, status or metadata.<key>, got " + repr(key)[:80]
            )
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            raise InvalidFilter(field, "must be a string or a non-empty list of strings")
        if len(values) > MAX_VALUES:
            raise InvalidFilter(field, f"at most {MAX_VALUES} values, got {len(values)}")
        for item in values:
            if not isinstance(item, str) or not 0 < len(item) <= MAX_VALUE_LENGTH:
                raise InvalidFilter(
                    field, f"each value must be a string of 1 to {MAX_VALUE_LENGTH} characters"
                )
            if key == "status" and item not in STATUSES:
                raise InvalidFilter(field, f"must be one of {', '.join(STATUSES)}, got {item!r}")
        out[key] = sorted(set(values))
    return out


def filter_matches(
    payload_filter: Mapping[str, Sequence[str]] | None,
    *,
    model: str,
    status: str,
    metadata: Mapping[str, str],
) -> bool:
    """Does an event of a job of ``model`` entering ``status`` with ``metadata`` pass?"""
    if not payload_filter:
        return True
    for key, values in payload_filter.items():
        if key == "model":
            actual: str | None = model
        elif key == "status":
            actual = status
        else:
            actual = metadata.get(key[len(METADATA_PREFIX) :])
        if actual is None or actual not in values:
            return False
    return True
