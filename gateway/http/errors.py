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
import msgspec.inspect
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from gateway.clock import iso, system_clock
from gateway.domain import wording
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    ServiceUnavailable,
    StoreUnavailable,
    error_classes,
    for_status,
)
from gateway.store.driver_errors import Refusal, from_database, refusal

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
    """An error on its way out, before a shape is chosen: its code and status are its class's."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        error: GatewayError,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Failure:
        """``error`` as HTTP: its class's status (``status`` only for a framework error of a
        status the tree has no class for), code and headers, and Retry-After when it has one."""
        answer = {**type(error).headers, **(headers or {})}
        if error.retry_after_s is not None:
            answer["Retry-After"] = str(max(1, math.ceil(error.retry_after_s)))
        return cls(
            status or type(error).status_code,
            type(error).code,
            error.message,
            error.details,
            headers=answer,
        )


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
    return respond(request, Failure.of(exc))


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's own errors (routing, parameters, body size) in our shape and words."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    details: list[dict[str, Any]] = []
    message = str(exc.detail) if exc.detail else "Request failed"
    decode_error = _decode_error(exc)
    if decode_error is not None:
        message = wording.not_json(str(decode_error))
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        wrongs = [_worded(request, item) for item in exc.extra if isinstance(item, dict)]
        details = [{"field": w.field, "message": w.message} for w in wrongs]
        if wrongs:
            message = wording.summary("The request is invalid", wrongs)
    if status == 404:
        message = f"No route for {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    elif status == 413:
        message = "The request body is too large"
    headers = {
        k: v for k, v in (exc.headers or {}).items() if k.lower() in {"allow", "retry-after"}
    }
    error = for_status(status)(message, details=details)
    return respond(request, Failure.of(error, status=status, headers=headers))


def _decode_error(exc: BaseException) -> msgspec.DecodeError | None:
    """The JSON decoding error behind a framework error (a body that is not JSON), if any."""
    seen: BaseException | None = exc
    for _ in range(5):  # the chain is short: ClientException <- SerializationException <- ...
        if seen is None:
            return None
        if isinstance(seen, msgspec.DecodeError) and not isinstance(seen, msgspec.ValidationError):
            return seen
        seen = seen.__cause__
    return None


_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,15})?$")


def _worded(request: Request[Any, Any, Any], item: dict[str, Any]) -> wording.Wrong:
    """One of Litestar's validation messages for a parameter (msgspec's words, its path cut off
    into ``key``) in ours. What was expected is read from the handler's signature model (the
    msgspec type Litestar converted to, parameter constraints included); what was given, from
    the request. (Bodies never reach here: ``gateway.http.bodies`` reads and words them.)"""
    text, key, source = str(item.get("message", "")), str(item.get("key", "")), item.get("source")
    parameters = msgspec.inspect.type_info(request.route_handler.signature_model)
    given: Any = wording.NOTHING
    if source == "query" and key in request.query_params:
        given = request.query_params.get(key)
        if _NUMBER.match(given):  # shown as the number it is (a query holds only text)
            given = msgspec.json.decode(given)
    elif source == "path":
        given = request.path_params.get(key, wording.NOTHING)
    return wording.explain(text, wording.member(parameters, key), given, root=key)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The last resort: a database error that reached here still answers by what it means (an
    outage 503 ``store_unavailable``, a refused value 400: ``gateway.store.driver_errors``);
    anything else is logged (without secrets) and answered without any detail."""
    meaning = refusal(exc) if from_database(exc) else Refusal.OTHER
    if meaning is Refusal.OUTAGE:
        return respond(request, Failure.of(StoreUnavailable()))
    if meaning is Refusal.DATA:
        return respond(
            request, Failure.of(InvalidRequest("The database refused a value of this request"))
        )
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return respond(request, Failure.of(GatewayError()))


def too_deep_handler(request: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit."""
    return respond(request, Failure.of(InvalidRequest("The JSON is nested too deeply")))


EXCEPTION_HANDLERS = {
    GatewayError: gateway_error_handler,
    HTTPException: http_exception_handler,
    RecursionError: too_deep_handler,
    Exception: internal_error_handler,
}


# Every route reads or writes the store, so every route may answer these.
ALWAYS_DOCUMENTED: tuple[type[GatewayError], ...] = (ServiceUnavailable, StoreUnavailable)


def documented_errors(
    *errors: type[GatewayError], drop_in: bool = False
) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers a route can give, from the classes of the error tree
    it raises (and ``ALWAYS_DOCUMENTED``): one entry per status, in the one error shape with the
    codes a caller can branch on, or in the upstream's (``drop_in``, the ``/v2`` routes)."""
    given = {*errors, *ALWAYS_DOCUMENTED}
    by_status: dict[int, list[type[GatewayError]]] = {}
    for cls in error_classes():  # tree order: a status's general class first
        if cls in given:
            by_status.setdefault(cls.status_code, []).append(cls)

    def description(classes: list[type[GatewayError]]) -> str:
        if drop_in:
            return (
                f"{classes[0].summary} "
                "(the upstream's error shape and words; errors[] names the fields)"
            )
        return f"{classes[0].summary} (code: {', '.join(cls.code for cls in classes)})"

    return {
        status: ResponseSpec(
            data_container=UpstreamErrorResponse if drop_in else ErrorResponse,
            description=description(by_status[status]),
            generate_examples=False,
        )
        for status in sorted(by_status)
    }
