"""The service's error tree: every error code the gateway answers is one class here, and only here.

::

    GatewayError (500)                  internal_error: the last resort, never raised on purpose
    ├── InvalidRequest (400)            the body or a parameter breaks a rule; ``details`` say which
    │   ├── CallbackRejected (400)      the callback URL is not one the gateway will call
    │   ├── BrokerTargetRefused (400)   a broker target malformed or outside the allow-list
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
    """A failure the gateway did not foresee (the root of the error tree, never raised on
    purpose). The answer never details it; the gateway logs it with the request id.

    What to do: retry later; for a job, retry with the same ``Idempotency-Key``, so that a job
    that was in fact accepted is not made twice. If it persists, give the operator the
    ``X-Request-Id`` of the answer."""

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
    """The body, a header or a query parameter breaks a rule: a model's field missing,
    of the wrong type or out of range, a field the model does not take, an unknown model, a
    malformed cursor or time window. ``details`` name each field (a path such as ``events[0]``
    or ``metadata.order_id``), what it must be and what was given.

    What to do: correct the fields ``details`` name and send again; the same request gets the
    same answer. ``GET /v1/models/{id}`` lists a model's fields and their rules."""

    status_code = 400
    code = "invalid_request"
    summary = "The request breaks a rule; details name the fields"


class CallbackRejected(InvalidRequest):
    """The ``callback_url`` (or a subscription's ``target_url``) is not an http(s) URL
    without credentials, or names or resolves to an address the SSRF guard refuses: loopback,
    private, link-local, reserved and the like.

    What to do: give a public http(s) URL of your receiver. For development against a local
    receiver, the operator can allow it with ``GATEWAY_CALLBACK_ALLOWLIST``."""

    code = "callback_url_rejected"
    summary = "The callback URL is not one the gateway will call"


class BrokerTargetRefused(InvalidRequest):
    """A subscription's message-broker target (``amqp://``, ``nats://``, ``redis://``) is
    malformed (``details`` name the part: the exchange, subject, stream, host, port, …), or
    the client's broker allow-list does not name that broker and name, or it carries
    credentials this gateway cannot store (no ``GATEWAY_BROKER_CREDENTIALS_KEY``). An admin
    allow-list entry that is malformed is refused the same way.

    What to do: correct the part ``details`` name; to reach another broker or name, ask the
    operator to add it to your allow-list (``PATCH /v1/admin/clients/{id}``)."""

    code = "broker_target_rejected"
    summary = "The broker target is not one this client may publish to"


class NothingToRedeliver(InvalidRequest):
    """A redelivery was asked of a job that has no webhook events: it was sent without a
    ``callback_url`` (and no subscription matched it), or it has not finished yet.

    What to do: nothing to resend. Wait for the job to end, or read it with
    ``GET /v1/jobs/{id}``."""

    code = "nothing_to_redeliver"
    summary = "The job has no webhook events to send again"


class TooManySubscriptions(InvalidRequest):
    """The client already has the most active subscriptions allowed (100).

    What to do: delete subscriptions you no longer use (``DELETE /v1/subscriptions/{id}``),
    then subscribe again."""

    code = "too_many_subscriptions"
    summary = "The client is at its cap of active subscriptions; delete some first"


class Unauthorized(GatewayError):
    """No key was sent, or the key is unknown or revoked; on ``/v1/admin`` routes, the key
    is not the admin key. ``WWW-Authenticate`` says how to authenticate: ``Authorization:
    Bearer <key>``, or HTTP Basic with the key as the user name.

    What to do: send a valid client key. A revoked key stays refused: ask the operator for a
    new client (``gateway clients create``)."""

    status_code = 401
    code = "unauthorized"
    summary = "Missing, unknown or revoked key"
    # Both ways a client may authenticate (RFC 9110 §11.6.1); Zapier's Basic Auth included.
    headers = {  # noqa: RUF012 (a constant, never mutated)
        "WWW-Authenticate": 'Bearer realm="video-webhook-gateway", '
        'Basic realm="video-webhook-gateway", charset="UTF-8"'
    }


class NotFound(GatewayError, LookupError):
    """No such job, subscription, model, client or route for this caller. Another
    client's job answers exactly like an unknown one.

    What to do: check the id and the key; a job id belongs to the client whose key created it.
    For an unknown model, ``GET /v1/models`` lists the ids."""

    status_code = 404
    code = "not_found"
    summary = "No such resource for this client"


class MethodNotAllowed(GatewayError):
    """The path exists but has no operation for this method; ``Allow`` lists its methods.

    What to do: use one of the methods ``Allow`` lists."""

    # Answered by the framework for a path, never by an operation: the OpenAPI document names it
    # in its description, not under an operation.
    status_code = 405
    code = "method_not_allowed"
    summary = "The path has no operation for this method"


class IdempotencyKeyReused(GatewayError):
    """The ``Idempotency-Key`` was already used, within ``GATEWAY_IDEMPOTENCY_TTL_S``
    (24 h), with a different body. (The same key with the same body returns the original job
    with ``Idempotent-Replayed: true``: that is not an error.)

    What to do: use a new key for a new job; resend the original body to get the original job."""

    status_code = 409
    code = "idempotency_key_reused"
    summary = "Idempotency-Key reused with a different body"


class PayloadTooLarge(GatewayError):
    """The request body is over ``GATEWAY_MAX_BODY_BYTES`` (16 MiB by default, room for a
    base64 image).

    What to do: send media as http(s) URLs instead of inline base64, or make the body smaller."""

    status_code = 413
    code = "payload_too_large"
    summary = "Request body too large"


class UnsupportedMediaType(GatewayError):
    """A job body that is neither JSON (``application/json``) nor a form
    (``application/x-www-form-urlencoded``).

    What to do: send ``Content-Type: application/json`` with a JSON body, or a form."""

    status_code = 415
    code = "unsupported_media_type"
    summary = "Body media type not accepted"


class RateLimited(GatewayError):
    """The client sent more than ``GATEWAY_RATE_LIMIT_PER_MINUTE`` jobs (600) in a minute,
    counted across every replica. ``Retry-After`` says when the window has room again.

    What to do: wait ``Retry-After`` seconds and send again (with the same ``Idempotency-Key``);
    the Python client does this on its own."""

    status_code = 429
    code = "rate_limited"
    summary = "Rate limit or in-flight cap reached; see Retry-After"


class TooManyJobsInFlight(RateLimited):
    """The client has ``GATEWAY_MAX_IN_FLIGHT_PER_CLIENT`` jobs (1,000) not yet finished.
    ``Retry-After: 30``.

    What to do: wait for jobs to finish (or ``Retry-After``) and send again."""

    code = "too_many_jobs_in_flight"
    summary = "The client's cap of unfinished jobs is reached; see Retry-After"
    default_retry_after_s = 30.0


class ServiceUnavailable(GatewayError):
    """The gateway cannot serve this request now (it is starting or shutting down, or a
    part it needs is unavailable). Nothing was stored.

    What to do: retry after ``Retry-After`` seconds, with the same ``Idempotency-Key`` for a
    job."""

    status_code = 503
    code = "service_unavailable"
    summary = "The gateway cannot serve now; retry after Retry-After"


class StoreUnavailable(ServiceUnavailable):
    """The database cannot be reached or cannot commit (PostgreSQL down, SQLite's disk full or
    its lock held too long). Nothing of this request was stored, and nothing accepted before is
    lost. ``Retry-After`` is 5 s.

    What to do: retry after ``Retry-After`` seconds, with the same ``Idempotency-Key``."""

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
