"""One error shape for every 4xx and 5xx, the framework's own included.

``{"error": {"code": "invalid_request", "message": "…", "details": [{"field": …, "message": …}]}}``
Nothing here echoes a header, a key or a stack trace.

The one documented exception, chosen by path prefix: under ``/v2/`` (the drop-in copy of the
upstream's own API) errors answer in the upstream's shape and words —
``{"message", "path", "requestId", "statusCode": "400", "timestamp", "errors"?}`` — so code written
against the upstream keeps its error handling. Every handler below builds one ``Failure``;
``respond`` picks the shape.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from gateway.clock import iso, system_clock
from gateway.errors import GatewayError

log = structlog.get_logger("gateway.http")


class ErrorDetail(msgspec.Struct, frozen=True):
    field: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: list[ErrorDetail] = msgspec.field(default_factory=list)


class ErrorResponse(msgspec.Struct, frozen=True):
    """The body of every error response."""

    error: ErrorBody


_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> Response[ErrorResponse]:
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            details=[
                ErrorDetail(field=str(d.get("field", "")), message=str(d.get("message", "")))
                for d in details or []
            ],
        )
    )
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers or {})


DROP_IN_PREFIX = "/v2/"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def upstream_echo(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The upstream echoes ``X-Client-Request-Id`` when it is 1 to 128 of ``A-Za-z0-9._:-``; so
    does every ``/v2`` answer, errors included."""
    given = request.headers.get("x-client-request-id", "")
    return {"X-Client-Request-Id": given} if _CLIENT_REQUEST_ID.match(given) else {}


class UpstreamErrorDetail(msgspec.Struct, frozen=True):
    path: str
    message: str


class UpstreamErrorResponse(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """The upstream's error body, as the drop-in ``/v2`` answers it (statusCode is a string)."""

    message: str
    path: str
    request_id: str
    status_code: str
    timestamp: str
    errors: list[UpstreamErrorDetail] | None = None  # what broke, on a 400


# The upstream's own words, verbatim from its documentation, except 401: its advice to create a
# key on its Billing page would mislead a caller of the gateway, whose keys come from the operator.
UPSTREAM_MESSAGES: dict[int, str] = {
    400: "Body validation error!",
    401: (
        "This request requires a valid API key. Use a client key of this gateway "
        "(ask its operator): Authorization: Bearer <key>"
    ),
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal server error",
    503: "Service unavailable",
}


@dataclass(frozen=True)
class Failure:
    """An error on its way out, before a shape is chosen."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def respond(request: Request[Any, Any, Any], failure: Failure) -> Response[Any]:
    """The one place an error becomes a response: the upstream's shape under ``/v2/``, else ours."""
    if request.url.path.startswith(DROP_IN_PREFIX):
        return _upstream_shaped(request, failure)
    return error_response(
        failure.status, failure.code, failure.message, failure.details, headers=failure.headers
    )


def _upstream_shaped(
    request: Request[Any, Any, Any], failure: Failure
) -> Response[UpstreamErrorResponse]:
    errors = None
    if failure.status == 400:
        errors = [
            UpstreamErrorDetail(path=str(d.get("field") or "$"), message=str(d.get("message", "")))
            for d in failure.details
        ] or [UpstreamErrorDetail(path="$", message=failure.message)]
    gateway = getattr(request.app.state, "gateway", None)
    now = gateway.runtime.clock() if gateway is not None else system_clock()
    body = UpstreamErrorResponse(
        # Statuses the upstream has no word for (409, 415) keep the gateway's own message.
        message=UPSTREAM_MESSAGES.get(failure.status, failure.message),
        path=request.url.path,
        request_id=str(uuid.uuid4()),
        status_code=str(failure.status),
        timestamp=iso(now) or "",
        errors=errors,
    )
    return Response(
        body,
        status_code=failure.status,
        media_type=MediaType.JSON,
        headers={**failure.headers, **upstream_echo(request)},
    )


def gateway_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, GatewayError)
    headers = dict(exc.headers)
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return respond(
        request, Failure(exc.status_code, exc.code, exc.message, exc.details, headers=headers)
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's own errors (routing, parameters, body size) in our shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    details: list[dict[str, Any]] = []
    message = str(exc.detail) if exc.detail else "Request failed"
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                text = str(item.get("message", ""))
                details.append(
                    {"field": _field_named(text) or item.get("key", ""), "message": text}
                )
        if len(details) == 1 and details[0]["field"] not in ("", "data"):
            message = f"{message}: {details[0]['field']}: {details[0]['message']}"
    if status == 404:
        message = f"No route for {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    elif status == 413:
        message = "The request body is too large"
    headers = {
        k: v for k, v in (exc.headers or {}).items() if k.lower() in {"allow", "retry-after"}
    }
    code = _CODES.get(status, "error" if status < 500 else "internal_error")
    return respond(request, Failure(status, code, message, details, headers=headers))


_UNKNOWN_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]*)`")
_AT_PATH = re.compile(r" - at `\$\.(?P<path>[A-Za-z0-9_]+)")


def _field_named(text: str) -> str:
    """The body field a msgspec message is about: an unknown one, or the path it points at."""
    match = _UNKNOWN_FIELD.search(text) or _AT_PATH.search(text)
    return match.group(match.lastgroup or 0) if match else ""


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The last resort: log the failure (without secrets), answer without any detail."""
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return respond(
        request, Failure(500, "internal_error", "The gateway failed to handle this request")
    )


def too_deep_handler(request: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit."""
    return respond(request, Failure(400, "invalid_request", "The JSON is nested too deeply"))


EXCEPTION_HANDLERS = {
    GatewayError: gateway_error_handler,
    HTTPException: http_exception_handler,
    RecursionError: too_deep_handler,
    Exception: internal_error_handler,
}


_DESCRIPTIONS = {
    400: "The request breaks a rule; details name the fields",
    401: "Missing, unknown or revoked key",
    404: "No such resource for this client",
    409: "Idempotency-Key reused with a different body",
    413: "Request body too large",
    415: "Body media type not accepted",
    429: "Rate limit or in-flight cap reached; see Retry-After",
    503: "The database is unavailable (store_unavailable); retry after Retry-After",
}


def _codes_for(status: int) -> list[str]:
    """Every error code the gateway answers ``status`` with: its error classes, then the
    framework's (``_CODES``), so the document lists exactly what a caller can branch on."""
    codes: list[str] = []
    pending: list[type[GatewayError]] = [GatewayError]
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if cls.status_code == status and cls.code not in codes:
            codes.append(cls.code)
    framework = _CODES.get(status)
    if framework is not None and framework not in codes:
        codes.append(framework)
    return codes


def documented_errors(*statuses: int, drop_in: bool = False) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers a route can give: in the one error shape (with the
    codes a caller can branch on), or in the upstream's (``drop_in``, the ``/v2`` routes)."""
    container = UpstreamErrorResponse if drop_in else ErrorResponse

    def description(status: int) -> str:
        if drop_in:
            return (
                f"{_DESCRIPTIONS[status]} "
                "(the upstream's error shape and words; errors[] names the fields)"
            )
        return f"{_DESCRIPTIONS[status]} (code: {', '.join(_codes_for(status))})"

    return {
        status: ResponseSpec(
            data_container=container,
            description=description(status),
            generate_examples=False,
        )
        for status in sorted({*statuses, 503})
    }
