"""The service's error tree. ``gateway.http.errors`` maps it to HTTP in one place.

::

    GatewayError
    ├── InvalidRequest (400)        the body or a parameter breaks a rule; ``details`` say which
    │   └── CallbackRejected (400)  the callback URL is not one the gateway will call
    ├── Unauthorized (401)          missing, unknown or revoked key
    ├── NotFound (404)              no such thing for this client (never says whose it is)
    ├── IdempotencyKeyReused (409)  same Idempotency-Key, different body
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)           with ``retry_after_s``
    └── ServiceUnavailable (503)    we cannot serve now; ``Retry-After`` says when to try again
        └── StoreUnavailable (503)  the database cannot be reached or cannot commit
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status_code = 500
    code = "internal_error"
    headers: dict[str, str] = {}  # noqa: RUF012 (extra response headers; never mutated)

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after_s: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.retry_after_s = retry_after_s
        if code is not None:
            self.code = code


class InvalidRequest(GatewayError, ValueError):
    status_code = 400
    code = "invalid_request"


class CallbackRejected(InvalidRequest):
    code = "callback_url_rejected"


class Unauthorized(GatewayError):
    status_code = 401
    code = "unauthorized"
    # Both ways a client may authenticate (RFC 9110 §11.6.1); Zapier's Basic Auth included.
    headers = {  # noqa: RUF012 (a constant, never mutated)
        "WWW-Authenticate": 'Bearer realm="video-webhook-gateway", '
        'Basic realm="video-webhook-gateway", charset="UTF-8"'
    }


class NotFound(GatewayError, LookupError):
    status_code = 404
    code = "not_found"


class IdempotencyKeyReused(GatewayError):
    status_code = 409
    code = "idempotency_key_reused"


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(GatewayError):
    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(GatewayError):
    status_code = 503
    code = "service_unavailable"


class StoreUnavailable(ServiceUnavailable):
    """The database is down, unreachable, full or busy: nothing was stored; retry later."""

    code = "store_unavailable"

    def __init__(
        self,
        message: str = "The gateway's database is unavailable; retry later.",
        *,
        retry_after_s: float = 5.0,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
