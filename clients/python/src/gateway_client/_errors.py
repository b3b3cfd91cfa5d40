"""The client's errors: one tree, so callers catch at the level they care about.

::

    GatewayError                      everything this package raises
    ├── ClientError (4xx)             the gateway refused the request; ``code`` says why
    │   ├── InvalidRequest (400)
    │   ├── Unauthorized (401)
    │   ├── NotFound (404)            also another client's job: the gateway never says whose
    │   ├── Conflict (409)            an Idempotency-Key reused with another body
    │   └── RateLimited (429)         ``retry_after`` seconds, when the gateway said
    ├── ServerError (5xx)
    │   └── Unavailable (503)         the gateway cannot serve now; ``retry_after`` seconds
    ├── ConnectionFailed              no answer at all (refused, reset, timed out)
    ├── WaitTimeout                   ``wait`` gave up first; ``job`` is the last state seen
    ├── InvalidWebhook                a webhook whose signature, timestamp or body does not verify
    └── MissingDependency             an optional extra is needed (``[ed25519]`` for ``v1a``)

Every HTTP error carries the gateway's error body: ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway_client._models import Job


class GatewayError(Exception):
    """Base of every error this package raises."""


class HTTPError(GatewayError):
    """An error answer from the gateway, with its error code, message and details."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after


class ClientError(HTTPError):
    """A 4xx answer: this request will not succeed as it is."""


class InvalidRequest(ClientError, ValueError):
    pass


class Unauthorized(ClientError):
    pass


class NotFound(ClientError, LookupError):
    pass


class Conflict(ClientError):
    pass


class RateLimited(ClientError):
    pass


class ServerError(HTTPError):
    """A 5xx answer."""


class Unavailable(ServerError):
    pass


class ConnectionFailed(GatewayError, ConnectionError):
    """The gateway could not be reached, or the connection broke before an answer."""


class WaitTimeout(GatewayError, TimeoutError):
    """The job did not end within the wait; ``job`` is its last observed state."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class InvalidWebhook(GatewayError, ValueError):
    """A webhook that does not verify: wrong signature, stale timestamp, missing headers."""


class MissingDependency(GatewayError, ImportError):
    """A feature needs an optional extra that is not installed; the message says which."""


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
    503: Unavailable,
}


def error_for(status_code: int, body: Any, *, retry_after: float | None = None) -> HTTPError:
    """The exception for an error answer; tolerant of bodies not in the gateway's shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or ("error" if status_code < 500 else "internal_error"))
    message = str(error.get("message") or f"HTTP {status_code}")
    details = error.get("details")
    kind = _BY_STATUS.get(status_code) or (ClientError if status_code < 500 else ServerError)
    return kind(
        status_code,
        code,
        message,
        details=details if isinstance(details, list) else None,
        retry_after=retry_after,
    )
