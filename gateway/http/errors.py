"""One error shape for every 4xx and 5xx, the framework's own included.

``{"error": {"code": "invalid_request", "message": "…", "details": [{"field": …, "message": …}]}}``
Nothing here echoes a header, a key or a stack trace.
"""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

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


def gateway_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    assert isinstance(exc, GatewayError)
    headers = dict(exc.headers)
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers=headers)


def http_exception_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorResponse]:
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
    return error_response(status, code, message, details, headers=headers)


_UNKNOWN_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]*)`")
_AT_PATH = re.compile(r" - at `\$\.(?P<path>[A-Za-z0-9_]+)")


def _field_named(text: str) -> str:
    """The body field a msgspec message is about: an unknown one, or the path it points at."""
    match = _UNKNOWN_FIELD.search(text) or _AT_PATH.search(text)
    return match.group(match.lastgroup or 0) if match else ""


def internal_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorResponse]:
    """The last resort: log the failure (without secrets), answer without any detail."""
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return error_response(500, "internal_error", "The gateway failed to handle this request")


def too_deep_handler(_: Request[Any, Any, Any], __: Exception) -> Response[ErrorResponse]:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit."""
    return error_response(400, "invalid_request", "The JSON is nested too deeply")


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
    503: "The database is unreachable",
}


def documented_errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers a route can give (all in the one error shape)."""
    return {
        code: ResponseSpec(
            data_container=ErrorResponse, description=_DESCRIPTIONS[code], generate_examples=False
        )
        for code in codes
    }
