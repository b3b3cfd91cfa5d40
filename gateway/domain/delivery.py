"""What one webhook delivery attempt produced, as a plain value.

The sender (``gateway.delivery.sender``) fills it in; the retry policy (``gateway.domain.retry``)
decides from it what happens next.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class DeliveryState(StrEnum):
    """Where a webhook event's delivery stands."""

    PENDING = "pending"  # due now or at its next retry
    DELIVERED = "delivered"  # a 2xx came back
    DEAD = "dead"  # the schedule ran out; a replay makes it pending again
    GONE = "gone"  # the receiver answered 410: no more attempts


class AttemptResult(msgspec.Struct, frozen=True):
    status_code: int | None  # None when no HTTP response came back
    latency_ms: float
    error: str | None = None  # e.g. "connect_error", "timeout", "blocked_address", "redirect"
    response_excerpt: str = ""  # the first bytes of the response body, decoded leniently
    retry_after_s: float | None = None  # from a Retry-After header, when present
    connect_failed: bool = False  # the connection itself could not be made

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
