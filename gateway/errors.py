"""The service's error tree: every error code the gateway answers is one class here, and only here.

::

    GatewayError (500)                  internal_error: the last resort, never raised on purpose
    ├── InvalidRequest (400)            the body or a parameter breaks a rule; ``details`` say which
    │   ├── CallbackRejected (400)      the callback URL is not one the gateway will call
    │   ├── NothingToRedeliver (400)    the job has no webhook events to send again
    │   └── TooManySubscriptions (400)  the client is at its cap of active subscriptions
    ├── Unauthorized (401)              missing, unknown or revoked key
    ├── NotFound (404)                  no such thing for this client (never says whose it is)
    ├── MethodNotAllowed (405)          the path has no operation for this method
    ├── IdempotencyKeyReused (409)      same Idempotency-Key, different body
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── RateLimited (429)               with ``retry_after_s``
    │   └── TooManyJobsInFlight (429)   the client's cap of unfinished jobs
    └── ServiceUnavailable (503)        we cannot serve now; ``Retry-After`` says when to try again
        └── StoreUnavailable (503)      the database cannot be reached or cannot commit

A class carries its code, status, a one-line summary (the default message, and what the OpenAPI
document says of it), extra headers and a default ``Retry-After``. ``gateway.http.errors`` maps
the tree to HTTP and builds the documented error answers from it; nothing else spells a code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar


class GatewayError(Exception):
    """The root, and the answer to the unforeseen: 500 ``internal_error`` with no detail."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    summary: ClassVar[str] = "The gateway failed to handle this request"
    headers: ClassVar[Mapping[str, str]] = {}  # extra response headers
    default_retry_after_s: ClassVar[float | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.message = message or self.summary
        super().__init__(self.message)
        self.details = details or []
        self.retry_after_s = (
            retry_after_s if retry_after_s is not None else self.default_retry_after_s
        )


class InvalidRequest(GatewayError, ValueError):
    status_code = 400
    code = "invalid_request"
    summary = "The request breaks a rule; details name the fields"


class CallbackRejected(InvalidRequest):
    code = "callback_url_rejected"
    summary = "The callback URL is not one the gateway will call"


class NothingToRedeliver(InvalidRequest):
    code = "nothing_to_redeliver"
    summary = "The job has no webhook events to send again"


class TooManySubscriptions(InvalidRequest):
    code = "too_many_subscriptions"
    summary = "The client is at its cap of active subscriptions; delete some first"


class Unauthorized(GatewayError):
    status_code = 401
    code = "unauthorized"
    summary = "Missing, unknown or revoked key"
    # Both ways a client may authenticate (RFC 9110 §11.6.1); Zapier's Basic Auth included.
    headers = {  # noqa: RUF012 (a constant, never mutated)
        "WWW-Authenticate": 'Bearer realm="video-webhook-gateway", '
        'Basic realm="video-webhook-gateway", charset="UTF-8"'
    }


class NotFound(GatewayError, LookupError):
    status_code = 404
    code = "not_found"
    summary = "No such resource for this client"


class MethodNotAllowed(GatewayError):
    """Answered by the framework for a path (``Allow`` lists its methods), never by an operation:
    the OpenAPI document names it in its description, not under an operation."""

    status_code = 405
    code = "method_not_allowed"
    summary = "The path has no operation for this method"


class IdempotencyKeyReused(GatewayError):
    status_code = 409
    code = "idempotency_key_reused"
    summary = "Idempotency-Key reused with a different body"


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "payload_too_large"
    summary = "Request body too large"


class UnsupportedMediaType(GatewayError):
    status_code = 415
    code = "unsupported_media_type"
    summary = "Body media type not accepted"


class RateLimited(GatewayError):
    status_code = 429
    code = "rate_limited"
    summary = "Rate limit or in-flight cap reached; see Retry-After"


class TooManyJobsInFlight(RateLimited):
    code = "too_many_jobs_in_flight"
    summary = "The client's cap of unfinished jobs is reached; see Retry-After"
    default_retry_after_s = 30.0


class ServiceUnavailable(GatewayError):
    status_code = 503
    code = "service_unavailable"
    summary = "The gateway cannot serve now; retry after Retry-After"


class StoreUnavailable(ServiceUnavailable):
    """The database is down, unreachable, full or busy: nothing was stored; retry later."""

    code = "store_unavailable"
    summary = "The gateway's database is unavailable; retry later."
    default_retry_after_s = 5.0


def error_classes(root: type[GatewayError] = GatewayError) -> Iterator[type[GatewayError]]:
    """``root`` and every class below it, breadth first (a status's general class first)."""
    pending = [root]
    while pending:
        cls = pending.pop(0)
        yield cls
        pending.extend(cls.__subclasses__())


# The class for each status the web framework answers on its own (routing, parameters, body size).
_FRAMEWORK: dict[int, type[GatewayError]] = {
    cls.status_code: cls
    for cls in (
        GatewayError,
        InvalidRequest,
        Unauthorized,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        ServiceUnavailable,
    )
}


# Answers no operation gives, so the OpenAPI document names them in its description instead: the
# framework's for a path without the method, and the last resort.
NOT_PER_OPERATION: tuple[type[GatewayError], ...] = (MethodNotAllowed, GatewayError)


def for_status(status: int) -> type[GatewayError]:
    """The class a framework error of ``status`` answers as. A status the framework never gives
    this app's routes (a 403, a 409) keeps its status with the nearest general code:
    ``invalid_request`` for a 4xx, ``internal_error`` for a 5xx."""
    return _FRAMEWORK.get(status) or (InvalidRequest if status < 500 else GatewayError)
