"""What the upstream said, as plain values: the seam between the HTTP client and the use cases.

The client (``gateway.upstream.client``) turns every response, error body shape and transport
fault into one of these; the use cases decide what to do with them without touching httpx.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

# What the store keeps of an upstream answer (the columns' sizes): no real id or status is longer.
GENERATION_ID_MAX = 100
UPSTREAM_STATUS_MAX = 20


class Generation(msgspec.Struct, frozen=True):
    """A generation as the upstream reports it (POST answer or GET poll)."""

    id: str
    status: str  # queued | generating | completed | error (other strings are passed through)
    video_url: str | None = None
    error: dict[str, Any] | None = None  # {name, message} or {detail: [...]}, as received
    usage: dict[str, Any] | None = None  # meta.usage: {credits_used, usd_spent}


class FailureKind(StrEnum):
    """How sure we are about what a failed call did upstream."""

    REJECTED = "rejected"  # 400/401/403 and other 4xx: refused, nothing started
    RETRYABLE = "retryable"  # 429, 502, 503, connect errors: surely nothing started; try later
    UNKNOWN = "unknown"  # 500, 504, read timeouts, resets, unreadable answers: may have started
    NOT_FOUND = "not_found"  # 404 (on a poll: the upstream does not know the generation id)


class UpstreamFailure(msgspec.Struct, frozen=True):
    kind: FailureKind
    message: str  # human-readable; the upstream's own message when it sent one
    status_code: int | None = None  # None for transport faults
    error: dict[str, Any] | None = None  # the upstream's error body, normalised, when it sent one
    retry_after_s: float | None = None  # from a Retry-After header, when present


UpstreamResult = Generation | UpstreamFailure
