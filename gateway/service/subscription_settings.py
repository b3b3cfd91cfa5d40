"""A subscription's own settings — custom headers, payload filter, throttle — checked the same
way on create and on edit, refused as a 400 naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from gateway.domain import wording
from gateway.domain.custom_headers import InvalidHeader, check_headers
from gateway.domain.payload_filter import InvalidFilter, normalize_filter
from gateway.domain.throttle import MAX_RATE
from gateway.domain.wording import Wrong
from gateway.errors import InvalidRequest

# Attempts per second per replica; 0 (or not given) for no throttle.
Throttle = Annotated[float, msgspec.Meta(ge=0, le=MAX_RATE)]
Headers = dict[str, str]
FilterSpec = dict[str, str | list[str]]


def _refused(field: str, message: str, *, lead: str) -> InvalidRequest:
    return InvalidRequest(
        wording.summary(lead, [Wrong(field, message)]),
        details=[{"field": field, "message": message}],
    )


def checked_settings(
    *,
    headers: Mapping[str, Any] | None,
    payload_filter: Mapping[str, Any] | None,
    throttle: float | None,
    lead: str = "The subscription is invalid",
) -> dict[str, Any]:
    """The columns of the given settings (``{}`` or ``0`` removes one: stored as None); only
    the ones given (not None) appear."""
    values: dict[str, Any] = {}
    try:
        if headers is not None:
            values["headers"] = check_headers(headers)
        if payload_filter is not None:
            values["filter"] = normalize_filter(payload_filter)
    except (InvalidHeader, InvalidFilter) as exc:
        raise _refused(exc.field, str(exc), lead=lead) from None
    if throttle is not None:
        values["throttle"] = throttle or None
    return values
