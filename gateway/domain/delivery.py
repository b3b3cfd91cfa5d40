"""What one webhook delivery attempt produced, as a plain value.

The sender (``gateway.delivery.sender``) or a broker publisher (``gateway.delivery.brokers``)
fills it in; the retry policy (``gateway.domain.retry``) decides from it what happens next.

An attempt succeeded when the receiver answered 2xx, or when a broker confirmed the message
(``acknowledged``: a publisher confirm, a JetStream ack, an ``XADD`` reply; never an HTTP status
code made up for it). A broker's failures have no status code; their ``error`` says what
happened (the codes are below).
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


#: Broker failures where the broker answered but refused this one message: like a 4xx, they say
#: nothing of the broker's health (the circuit breaker ignores them).
BROKER_REFUSALS = frozenset(
    {
        "unroutable",  # RabbitMQ returned a mandatory message: no queue is bound for it
        "no_exchange",  # RabbitMQ: the exchange does not exist
        "no_stream",  # NATS: no JetStream stream captures the subject
        "message_too_large",  # over the broker's (or our) limit: retrying cannot help
        "broker_auth_failed",  # the credentials were refused
        "broker_refused",  # another refusal (a wrong key type, a missing virtual host, …)
    }
)
#: Broker failures where no answer came: ``broker_unreachable`` (no connection could be made,
#: ``connect_failed`` set), ``connection_lost`` (it broke before the confirm: the message may or
#: may not be stored, so a retry may deliver it twice), ``timeout`` (no confirm in time: same).


class AttemptResult(msgspec.Struct, frozen=True):
    status_code: int | None  # None when no HTTP response came back (always, for a broker)
    latency_ms: float
    error: str | None = None  # e.g. "connect_error", "timeout", "blocked_address", "redirect"
    response_excerpt: str = ""  # the first bytes of the response body, decoded leniently
    retry_after_s: float | None = None  # from a Retry-After header, when present
    connect_failed: bool = False  # the connection itself could not be made
    acknowledged: bool = False  # a broker confirmed it stored the message

    @property
    def succeeded(self) -> bool:
        if self.acknowledged:
            return True
        return self.status_code is not None and 200 <= self.status_code < 300
