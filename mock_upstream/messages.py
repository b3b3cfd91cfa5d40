"""The upstream's error messages, verbatim from its documentation, and its two error shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

MESSAGES: dict[int, str] = {
    400: "Body validation error!",
    401: (
        "This request requires a valid API key. You can create a new API key on the Billing "
        "page: https://aimlapi.com/app/keys"
    ),
    403: (
        "You've run out of credits. Please top up your balance or update your payment method "
        "to continue: https://aimlapi.com/app/billing/"
    ),
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}
OTHER_500_MESSAGES = (
    "Something wrong with the server. Please, try again later.",
    "The model is under maintenance, please contact us at help@aimlapi.com.",
)
ERROR_NAMES: dict[int, str] = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    413: "PayloadTooLargeError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(
    status: int,
    path: str,
    *,
    problem: bool = False,
    message: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], str]:
    """An error body in one of the upstream's two shapes, and its media type."""
    text = message or MESSAGES.get(status, HTTPStatus(status).phrase)
    request_id = str(uuid.uuid4())
    if problem:
        body: dict[str, Any] = {
            "title": HTTPStatus(status).phrase,
            "status": status,
            "message": text,
            "instance": path,
            "requestId": request_id,
            "timestamp": _now_iso(),
            "error": {"name": ERROR_NAMES.get(status, "Error"), "message": text},
        }
        media_type = "application/problem+json"
    else:
        body = {
            "message": text,
            "path": path,
            "requestId": request_id,
            "statusCode": str(status),  # a string, as the upstream sends it
            "timestamp": _now_iso(),
        }
        media_type = "application/json"
    if details:
        body["errors"] = details
    return body, media_type
